"""Architecture: the JSON spec, shape arithmetic and inference, presets, the layer text form, the
one-layer calculator (all torch-free), and turning a spec into torch modules or PyTorch code."""
