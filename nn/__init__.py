"""PyTorch side: input formats, golden models, networks, quantization, training, experiments."""
