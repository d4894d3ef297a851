"""One small runner per runtime, all with the same interface (see :mod:`.base`)."""

from .base import Runner, TensorInfo, runner_for

__all__ = ["Runner", "TensorInfo", "runner_for"]
