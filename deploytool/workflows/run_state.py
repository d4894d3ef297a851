"""A run folder's progress: which steps of `deploytool run` finished, and what each recorded,
persisted in ``state.json`` so that a rerun resumes where an interrupted one stopped."""

from __future__ import annotations

import json
from pathlib import Path

from deploytool.core.fileio import write_json


class RunState:
    """Which steps of a run folder are done, persisted in ``state.json``."""

    def __init__(self, folder: Path):
        self.path = folder / "state.json"
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {"done": {}}

    def done(self, step: str) -> bool:
        """Whether ``step`` finished in an earlier invocation."""
        return step in self.data["done"]

    def finish(self, step: str, result) -> None:
        """Record ``step`` as finished with its ``result``."""
        self.data["done"][step] = result
        write_json(self.path, self.data)

    def result(self, step: str):
        """What ``step`` recorded."""
        return self.data["done"][step]
