"""Keep native libraries' chatter (TensorFlow start-up, converter logs) out of the user's terminal."""

import contextlib
import os
import sys


@contextlib.contextmanager
def native_output_silenced(stdout: bool = False):
    """Send file descriptor 2 (and 1 with ``stdout=True``) to /dev/null for the duration, so
    lines that native code writes directly are dropped. ``DEPLOYTOOL_TF_LOGS=1`` disables this."""
    if os.environ.get("DEPLOYTOOL_TF_LOGS"):
        yield
        return
    descriptors = [2, 1] if stdout else [2]
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = {fd: os.dup(fd) for fd in descriptors}
    try:
        for fd in descriptors:
            os.dup2(devnull, fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)
