"""A run folder's progress: which steps of `deploytool run` finished, with which options, and what
each recorded, persisted in ``state.json``. A rerun reuses a step only when it finished with the
same options as asked now; a step whose options changed is done again, and so is every step after
it (each reads what the one before made)."""

from __future__ import annotations

import json
from pathlib import Path

from deploytool.core.fileio import write_json

STEPS = ("train", "convert", "verify", "bench", "bundle", "report")


def _plain(options: dict) -> dict:
    """``options`` as JSON would give them back (tuples as lists), so that a recorded set and a
    new one compare equal when they are the same."""
    return json.loads(json.dumps(options, default=str))


def _changes(before: dict, now: dict) -> str:
    """The options that differ, in words: "epochs 10 -> 3, data digits -> mnist"."""
    keys = [key for key in dict.fromkeys([*before, *now]) if before.get(key) != now.get(key)]
    return ", ".join(f"{key} {before.get(key)!r} -> {now.get(key)!r}" for key in keys)


class RunState:
    """Which steps of a run folder are done, and with which options, persisted in ``state.json``."""

    def __init__(self, folder: Path, fresh: bool = False):
        self.path = folder / "state.json"
        self.data = json.loads(self.path.read_text()) if self.path.exists() and not fresh else {"done": {}}
        self.data.setdefault("options", {})

    def done(self, step: str) -> bool:
        """Whether ``step`` finished in an earlier invocation."""
        return step in self.data["done"]

    def reuse(self, step: str, options: dict, log=lambda message: None) -> bool:
        """Whether ``step`` finished earlier with these ``options``; when its options changed,
        it and every later step are forgotten, and ``log`` says why, so that they are done
        again. A step a run folder from before options were recorded finished is reused, with a
        note."""
        if not self.done(step):
            return False
        recorded = self.data["options"].get(step)
        if recorded is None:
            log(f"{step}: done by an earlier deploytool that recorded no options; reused "
                "(--fresh starts over)")
            return True
        if recorded == _plain(options):
            return True
        why = f"{step}'s options changed ({_changes(recorded, _plain(options))})"
        later = [name for name in STEPS[STEPS.index(step):] if self.done(name)]
        log(f"redoing {', '.join(later)}: {why}")
        for name in later:
            self.data["done"].pop(name, None)
            self.data["options"].pop(name, None)
        return False

    def finish(self, step: str, result, options: dict | None = None) -> None:
        """Record ``step`` as finished with its ``result`` (and the ``options`` it ran with)."""
        self.data["done"][step] = result
        if options is not None:
            self.data["options"][step] = _plain(options)
        write_json(self.path, self.data)

    def result(self, step: str):
        """What ``step`` recorded."""
        return self.data["done"][step]
