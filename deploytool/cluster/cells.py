"""A cell: one independent unit of a page's work (a model converted to every artifact kind and
verified on every runtime, a family's budget search), described so that it can run anywhere.

A cell names a function ("package.module:name", or a script's "path.py:name") and its JSON
arguments; it runs in a child process of its own with a time limit
(:func:`deploytool.core.child.call_in_child`), so a crashing runtime gives an answer, not a lost
worker. A cell that measures time says so: ``exclusive`` (the whole cell is a measurement) or a
``timing`` step, a second function given the first one's value and run afterwards on the same
node with the node to itself.

Its result is cached under the hash of what it depends on (the function, its arguments, the
files it reads, the tools' versions), so a rerun after a crash, or on another machine, computes
only what is missing, and a change of settings or of a library computes anew.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from deploytool.core.fileio import sha256_file, write_bytes

CELLS_FOLDER = "cells"


@dataclass(frozen=True)
class Cell:
    """One unit of work: ``function(*args)`` in a child process, killed after ``timeout`` s.

    ``label`` names it in progress and in the cache; ``files`` are files it reads whose content
    its result depends on (a user's model file); ``exclusive``: it measures time, so it runs with
    its node to itself; ``timing``: a function called with the first one's value (then ``args``)
    on the same node, with the node to itself, whose value is the cell's."""

    label: str
    function: str
    args: tuple = ()
    timeout: float | None = None
    files: tuple = ()
    exclusive: bool = False
    timing: str | None = None

    def key(self) -> str:
        """The hash of everything the result depends on (not where or when it ran)."""
        from deploytool import __version__
        from deploytool.core.manifest import tool_versions

        inputs = {"function": self.function, "args": [str(a) if isinstance(a, Path) else a
                                                      for a in self.args],
                  "timing": self.timing, "exclusive": self.exclusive,
                  "files": {str(f): sha256_file(f) for f in self.files if Path(f).exists()},
                  "deploytool": __version__, "versions": tool_versions()}
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class CellResult:
    """How a cell ended: ``value`` (ok) or ``error``; where (``node``), how long, how many tries,
    and what its process printed (the last lines)."""

    label: str
    ok: bool
    value: object = None
    error: str | None = None
    node: str | None = None
    seconds: float = 0.0
    tries: int = 1
    cached: bool = False
    printed: str = ""


def cache_file(folder, cell: Cell) -> Path:
    """Where ``cell``'s value is kept: ``folder/cells/<label>-<key's first 16 hex>.json``."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in cell.label).strip("_")
    return Path(folder) / CELLS_FOLDER / f"{slug}-{cell.key()[:16]}.json"


def cached_result(folder, cell: Cell) -> CellResult | None:
    """The cell's kept result, or None when it has not been computed with these inputs."""
    path = cache_file(folder, cell)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return CellResult(cell.label, True, record["value"], node=record.get("node"),
                      seconds=record.get("seconds", 0.0), cached=True)


def keep(folder, cell: Cell, result: CellResult) -> None:
    """Keep a successful result (a failed one is computed again next time)."""
    if result.ok:
        write_bytes(cache_file(folder, cell), json.dumps(
            {"label": cell.label, "node": result.node, "seconds": round(result.seconds, 2),
             "value": result.value}, default=str).encode())


def forget(folder) -> None:
    """Drop every kept result under ``folder`` (``--fresh``)."""
    shutil.rmtree(Path(folder) / CELLS_FOLDER, ignore_errors=True)
