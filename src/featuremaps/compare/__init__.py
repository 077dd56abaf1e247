"""`featuremaps compare A B`: two revisions' features, read through DVC, matched channel to channel."""
