"""Ctrl-C, remembered, and never raised inside an import.

Python raises KeyboardInterrupt wherever the interpreter is when SIGINT arrives. Raised inside an
import that a C extension started, it became another error (TensorFlow: SystemError, then
AttributeError of a half-imported module) or was printed and dropped (TensorFlow's nest
flattening printed the SystemError and the conversion went on to exit 0). So the command line's
handler (:func:`on_interrupt`) records each SIGINT and, while an import is running, sends it
again a moment later instead of raising; and nothing is committed to disk once one has arrived
(:func:`stop_if_interrupted`)."""

from __future__ import annotations

import os
import threading

_RECEIVED: list[int] = []  # SIGINTs this process received through on_interrupt
RETRY_SECONDS = 0.05  # how soon a SIGINT that arrived inside an import is sent again


def _inside_import(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def on_interrupt(signum, frame):
    """A SIGINT handler: Python's own KeyboardInterrupt, with the signal remembered; inside an
    import the signal is sent again shortly, so the interrupt lands once the import is done."""
    _RECEIVED.append(signum)
    if _inside_import(frame):
        again = threading.Timer(RETRY_SECONDS, os.kill, (os.getpid(), signum))
        again.daemon = True
        again.start()
        return
    raise KeyboardInterrupt


def received() -> bool:
    """Whether :func:`on_interrupt` has seen a Ctrl-C in this process."""
    return bool(_RECEIVED)


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived, even one a library swallowed."""
    if _RECEIVED:
        raise KeyboardInterrupt
