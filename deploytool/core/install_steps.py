"""The steps of installing an environment of its own (:mod:`deploytool.core.environments`): one
command each (pip, apt-get, dpkg), a failure as one line, and the refusal of a host a recipe does
not serve."""

from __future__ import annotations

import subprocess
from pathlib import Path

from deploytool.core.errors import UserError


def run_step(command: list[str], what: str, cwd: Path | None = None) -> None:
    """Run one step of an installation (pip, apt-get, dpkg); a one-line error with its last
    line of output (apt's warnings left out) when it fails."""
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace")
    if done.returncode != 0:
        lines = [line for line in done.stdout.splitlines()
                 if line.strip() and not line.startswith("W:")]
        raise UserError(f"{what} failed: {lines[-1] if lines else f'exit {done.returncode}'}")


class HostUnsupported(UserError):
    """A host an environment's recipe does not serve (the ARM64 one: no apt-get, or not
    x86-64)."""
