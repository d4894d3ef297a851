"""The records and infrastructure every other part stands on, importing nothing of deploytool
above them: errors, files written whole or not at all, the Keras environment, preprocessing,
tensors and quantized integers, the comparator and its tolerances, float32 round-off, per-layer
quantization error, and the manifest."""
