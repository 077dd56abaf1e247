"""featuremaps: train a small CNN on MNIST-like data and show what its conv layers see."""
