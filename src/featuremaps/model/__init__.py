"""The train stage: the network, its checkpoint, the device, the training loop and its records."""
