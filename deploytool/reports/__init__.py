"""The generated pages: the zoo's deployability matrix (``matrix``, random weights;
``matrix_trained``, trained on digits) and the own-models page (``own_models``, with one tiny model
per built-in layer from ``layer_coverage``)."""
