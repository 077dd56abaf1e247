"""`featuremaps compare A B`: two revisions' features, read through DVC, matched channel to channel."""

# How an image is represented in a layer: one number per channel, from extract's per_image.parquet.
# The sum over the map grows with the ink in the image whatever the channel detects, so sums of
# different channels correlate strongly (on MNIST a conv1 and conv2 CKA of 0.92 within one run,
# 0.64 by the strongest unit); the strongest unit says whether the pattern occurs anywhere.
REPRESENTATIONS = {"max": "its strongest unit (the map's maximum)", "sum": "its map summed"}
