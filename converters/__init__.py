"""Graph transforms and exporters (BatchNorm folding, head stripping, quantization, TFLite/ONNX)."""
