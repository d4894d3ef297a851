"""Where models and images come from: zoo names, run folders and model files (``model_source``,
``keras_files``, ``keras3``), named data sets and folders of images (``datasets``), and the
calibration images of an int8 conversion (``calibration``)."""
