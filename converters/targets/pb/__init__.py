"""Frozen TensorFlow GraphDef: export (``export``), a reader without TensorFlow
(``graph_reader``), inspection (``inspect``) and the target (``target``)."""
