"""The jobs the commands run, one module each: ``train``, ``convert`` (with its accuracy
``budget``), ``verify``, ``diagnose``, ``bench``, ``bundle``, ``inspect``, ``zoo`` and the whole
``pipeline`` of `deploytool run` (``run_state``, ``run_report``); ``artifacts`` is what the
commands that take artifacts share."""
