"""The jobs the commands run, by role, each sub-package importing only from those before it here
(tests/project/test_layout.py holds the code to it): the modules in this folder that every job
shares (``artifacts``: an artifact's manifest and the images to check it on; ``bundle``,
``inspect``, ``zoo``); ``training``; ``conversion`` (``convert`` and its quantization-aware
step); ``layer_search`` (where a runtime parts from the file's own, a service below verification
and diagnosis); ``measuring`` (``bench``, ``profile``); ``verification`` (``verify``);
``quantization`` (``diagnose``, the accuracy ``budget`` and its criteria, ``held_out`` judging,
``optimize``); ``pipeline`` (`deploytool run`, its state and report)."""
