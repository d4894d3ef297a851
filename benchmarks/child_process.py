"""A benchmark step in a process of its own: what a conversion holds (TensorFlow's graphs and
caches, which a long-lived process only grows) is given back when the process ends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def in_child(script: str, arguments: list[str], result_file: Path) -> dict:
    """``script`` run again with ``arguments`` in a process of its own (its log streamed through),
    expected to write its result as JSON to ``result_file``: that result, or ``{"error": ...}``
    saying how the process ended without one (a signal, an exit status)."""
    result_file.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, script, *arguments])
    if done.returncode != 0 or not result_file.exists():
        how = (f"killed by signal {-done.returncode} (SIGKILL: the out-of-memory killer, most "
               "likely)" if done.returncode < 0 else f"exit status {done.returncode}")
        return {"error": f"its process ended without a result ({how})"}
    return json.loads(result_file.read_text())
