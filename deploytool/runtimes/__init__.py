"""One small runner per runtime, all with the same interface (see :mod:`.base`); each registers
itself, and :func:`runners` loads the built-in ones."""

from .base import (Runner, TensorInfo, artifact_runtimes, runner_for, runners,
                   runtimes_reading)

__all__ = ["Runner", "TensorInfo", "artifact_runtimes", "runner_for", "runners", "runtimes_reading"]
