"""The analysis stages and their files: extract (conv activations over the dataset through forward
hooks), visualize (the inputs that maximise each feature) and attribute (Grad-CAM, Integrated
Gradients, channel ablation and the interpretability metrics)."""
