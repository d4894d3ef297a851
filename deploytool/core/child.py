"""Python code run in a child process with a time limit, for native libraries that may crash or
hang (OpenCV's engines): a crash, a hang or an error is an answer, not the caller's end."""

from __future__ import annotations

import json
import subprocess
import sys


def run_child(code: str, args: list[str], timeout: float) -> subprocess.CompletedProcess | None:
    """``python -c code *args`` with its output captured as text; None when it ran past
    ``timeout`` seconds (it is killed)."""
    try:
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                              text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def json_from_child(code: str, args: list[str], timeout: float):
    """The JSON value a child running ``code`` prints (from its first "{"), or None when it
    crashed, failed, ran past ``timeout`` or printed none."""
    done = run_child(code, args, timeout)
    if done is None or done.returncode != 0 or "{" not in done.stdout:
        return None
    return json.loads(done.stdout[done.stdout.index("{"):])
