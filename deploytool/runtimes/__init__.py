"""One small runner per runtime, all with the same interface (:mod:`.base`): load an artifact,
describe its inputs and outputs, infer, time. Each ``*_runner`` module registers its runner by
name; :func:`~.base.runners` discovers them. :mod:`.isolation` runs a runner in a child process
(:mod:`.worker`), so a crash or hang in a native runtime is that runtime's failure alone.

Words: a *runtime* is the library that executes an artifact (LiteRT, ONNX Runtime, OpenCV dnn,
TensorFlow, and Keras for the reference); a *runner* is deploytool's class around one; the CLI's
``--backend`` option names a runtime.
"""
