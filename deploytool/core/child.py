"""deploytool's one way of running work in another process: a function called in a fresh Python
process, with a time limit, and a structured answer. A crash, a hang or an error is an answer, not
the caller's end; a setting that must be made before a library is imported (an environment
variable) is the child's own.

The child is named by the function's dotted path ("package.module:name"), or by a script's
file path ("benchmarks/some_script.py:name", imported with its folder on ``sys.path``, as if run),
and gets JSON arguments; its JSON return value comes back in a file, whatever the libraries
print. No program text travels as a string. Large arrays travel as files the arguments name.

Used by the runtimes (each inference in its own process: :mod:`deploytool.runtimes.isolation`),
the layer search, training without oneDNN, the trained matrix and the benchmarks. It is also the
seam for a runtime with an interpreter of its own: ``python`` names that interpreter.

    python -m deploytool.core.child REQUEST.json
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

# exceptions whose message is the whole story (the runtimes' and deploytool's own refusals);
# any other is named by its type, as a traceback's last line names it
PLAIN_ERRORS = ("UserError", "ClientRefusal", "RuntimeError", "ValueError")


@dataclass(frozen=True)
class Interpreter:
    """How to start a Python other than this one: the command line up to the script's arguments
    (an environment's ``bin/python``, or an emulator and the Python it runs) and the environment
    variables it needs."""

    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChildAnswer:
    """How a child call ended: ``kind`` ok (``value`` is the function's return value), error
    (the function raised, or the process exited without an answer: ``error`` is the last line,
    ``error_type`` the exception's class name where it raised one),
    crash (killed by a signal: ``error`` names it) or timeout. ``stdout`` and ``stderr`` hold
    what the process printed (``stdout`` is empty when it was passed through)."""

    kind: str
    value: object = None
    error: str | None = None
    stdout: str = ""
    stderr: str = ""
    error_type: str | None = None  # the class name of the exception the function raised

    @property
    def ok(self) -> bool:
        """The function returned."""
        return self.kind == "ok"


def signal_name(returncode: int) -> str:
    """The name of the signal a negative return code stands for (``SIGSEGV``)."""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _die_with_parent() -> None:
    """In the child before it runs: be killed (SIGKILL) when the process that started it ends,
    so that a worker killed mid-cell leaves no orphan computing on (Linux' PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def call_in_child(function: str, *args, timeout: float | None = None, env: dict | None = None,
                  echo: bool = False, python: str | Interpreter | None = None,
                  die_with_parent: bool = False) -> ChildAnswer:
    """``function`` called with ``args`` (JSON values; paths become strings) in a fresh Python
    process (``python``: an interpreter's path or an :class:`Interpreter`; default this one),
    killed after ``timeout`` seconds (None: no
    limit). ``env`` adds environment variables; with ``echo`` the child's standard output goes
    to this process's as it comes (progress), else it is captured in the answer. With
    ``die_with_parent`` (Linux) the child is killed when this process ends (a cluster worker
    killed mid-cell; not for a call from a thread that may end before the child)."""
    with tempfile.TemporaryDirectory(prefix="deploytool-child-") as tmp:
        request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
        request.write_text(json.dumps({"function": function, "answer": str(answer),
                                       "args": [str(a) if isinstance(a, Path) else a
                                                for a in args]}))
        if not isinstance(python, Interpreter):
            python = Interpreter((python or sys.executable,))
        try:
            done = subprocess.run([*python.command, "-m", "deploytool.core.child", str(request)],
                                  stdout=None if echo else subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace",
                                  timeout=timeout,
                                  preexec_fn=_die_with_parent if die_with_parent else None,
                                  env={**os.environ, **dict(python.env), **(env or {})})
        except subprocess.TimeoutExpired:
            return ChildAnswer("timeout", error=f"no answer within {timeout:g} s (killed)")
        printed = {"stdout": done.stdout or "", "stderr": done.stderr or ""}
        if done.returncode < 0:
            return ChildAnswer("crash", error=f"crashed ({signal_name(done.returncode)})", **printed)
        record = json.loads(answer.read_text()) if answer.exists() else {}
        if done.returncode == 0 and "value" in record:
            return ChildAnswer("ok", record["value"], **printed)
        lines = [line for line in printed["stderr"].splitlines() if line.strip()]
        error = record.get("error") or (lines[-1] if lines else f"exit code {done.returncode}")
        return ChildAnswer("error", error=error, error_type=record.get("error_type"), **printed)


def load_function(spec: str):
    """The function ``spec`` names: "package.module:name" or "path/to/script.py:name"."""
    module_name, _, name = spec.rpartition(":")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        sys.path.insert(0, str(path.parent))
        loader = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[path.stem] = module
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, name)


def error_line(error: BaseException) -> str:
    """One line for an exception: its message's last line, named by its type unless it is one
    of :data:`PLAIN_ERRORS`."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    message = lines[-1].strip() if lines else ""
    if type(error).__name__ in PLAIN_ERRORS:
        return message or type(error).__name__
    kind = type(error)
    named = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{named}: {message}" if message else named


def main(request_path: str) -> int:
    """The child's side: import the function, call it, write its return value (or the error it
    raised, with the traceback on stderr) as JSON."""
    request = json.loads(Path(request_path).read_text())
    try:
        value = load_function(request["function"])(*request["args"])
    except Exception as error:  # the caller gets it as an answer of kind "error"
        traceback.print_exc()
        Path(request["answer"]).write_text(json.dumps({"error": error_line(error),
                                                       "error_type": type(error).__name__}))
        return 3
    Path(request["answer"]).write_text(json.dumps({"value": value}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
