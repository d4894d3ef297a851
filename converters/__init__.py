"""deploytool.converters: from a Keras model to artifact bytes. ``passes/`` rewrite the Keras
graph (each ``model -> (model, report)``); ``targets/`` export it, one package per format;
``options`` is what one conversion is asked to do, as the manifest records it; ``tracing`` and
``failures`` are shared by the targets. Installed as ``deploytool.converters``."""
