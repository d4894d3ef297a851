"""TFLite: TFLiteConverter export (``export``), int8 debugging and mixed int8/float models
(``debug``), the flatbuffer read without TensorFlow (``flatbuffer``, ``inspect``), phone-GPU
readiness (``gpu_readiness``) and the target (``target``)."""
