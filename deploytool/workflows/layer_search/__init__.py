"""The cross-runtime layer search, a service below verification and diagnosis: where a runtime
(OpenCV) first computes a file differently from its own runtime, the .onnx node or .tflite layer
an OpenCV failure comes from, and a minimal reproduction."""
