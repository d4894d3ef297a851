"""Export targets, one package per format (``tflite/``, ``onnx/``, ``pb/``): each holds its
exporter, its debug hooks, the inspection of its files and their readers, and a ``target`` module
whose :class:`~.registry.ExportTarget` registers itself (see :mod:`.registry`)."""
