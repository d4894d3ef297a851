"""ONNX: tf2onnx export (``export``), ONNX Runtime's QDQ quantizer (``quantize``), the input and
its calibration reader (``inputs``), int8 debugging (``debug``), inspection (``inspect``) and the
target (``target``)."""
