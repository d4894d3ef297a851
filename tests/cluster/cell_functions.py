"""Small functions the cluster tests run as cells (by file path, in child processes)."""

import os
import socket
import time


def square(number: int) -> dict:
    """A value that depends only on the input."""
    return {"square": number * number}


def slow_square(number: int, seconds: float) -> dict:
    """:func:`square`, after ``seconds``; also says which process computed it."""
    time.sleep(seconds)
    return {"square": number * number, "pid": os.getppid()}


def timed(value: dict, *args) -> dict:
    """A timing step: the first step's value with this step's host and parent process."""
    return {**value, "timed_on": socket.gethostname(), "timing_pid": os.getppid()}


def crash(number: int) -> dict:
    """Dies as a segfaulting runtime would."""
    os.kill(os.getpid(), 11)


def fail(number: int) -> dict:
    """Raises."""
    raise ValueError(f"no square for {number}")
