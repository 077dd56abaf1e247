"""The extract stage: conv activations over the dataset through forward hooks, and their files."""
