"""featuremaps: train a small CNN on MNIST-like data and show what its conv layers see."""
from featuremaps.threads import set_wait_policy

set_wait_policy()  # here, before any module loads torch and its OpenMP runtime (featuremaps.threads)
