"""A function of deploytool's called in a child process with a time limit, for native libraries
that may crash or hang (OpenCV's engines): a crash, a hang or an error is an answer, not the
caller's end. The child is named by the function's dotted path and gets JSON arguments; its
JSON return value comes back in a file, whatever the libraries print. No program text travels
as a string.

    python -m deploytool.core.child REQUEST.json
"""

from __future__ import annotations

import importlib
import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildAnswer:
    """How a child call ended: ``kind`` ok (``value`` is the function's return value), error
    (the function raised: ``error`` is its last line), crash (killed by a signal) or timeout."""

    kind: str
    value: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The function returned."""
        return self.kind == "ok"


def call_in_child(function: str, *args, timeout: float) -> ChildAnswer:
    """``function`` ("package.module:name") called with ``args`` (JSON values; paths become
    strings) in a fresh Python process, killed after ``timeout`` seconds."""
    with tempfile.TemporaryDirectory(prefix="deploytool-child-") as tmp:
        request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        request.write_text(json.dumps({"function": function, "answer": str(answer),
                                       "args": [str(a) if isinstance(a, Path) else a
                                                for a in args]}))
        try:
            done = subprocess.run([sys.executable, "-m", "deploytool.core.child", str(request)],
                                  capture_output=True, text=True, errors="replace",
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return ChildAnswer("timeout", error=f"no answer within {timeout:g} s (killed)")
        if done.returncode < 0:
            try:
                name = signal.Signals(-done.returncode).name
            except ValueError:
                name = f"signal {-done.returncode}"
            return ChildAnswer("crash", error=f"crashed ({name})")
        if done.returncode != 0 or not answer.exists():
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            return ChildAnswer("error", error=lines[-1] if lines else
                               f"exit code {done.returncode}")
        return ChildAnswer("ok", json.loads(answer.read_text()))


def main(request_path: str) -> int:
    """The child's side: import the function, call it, write its return value as JSON."""
    request = json.loads(Path(request_path).read_text())
    module, _, name = request["function"].partition(":")
    value = getattr(importlib.import_module(module), name)(*request["args"])
    Path(request["answer"]).write_text(json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
