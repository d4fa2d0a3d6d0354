"""Looking inside a trained run: loading it, predictions and metrics, kernels and feature maps,
activation maximisation, attribution (Grad-CAM, saliency)."""
