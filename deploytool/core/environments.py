"""Python environments of their own, for libraries that cannot share deploytool's: MediaPipe
(it pulls opencv-contrib-python, whose files overwrite opencv-python-headless's ``cv2``). Each
is a virtual environment inside the main one's folder (``<sys.prefix>/deploytool-envs/<name>``,
or under ``$DEPLOYTOOL_ENVS``), holding its own requirements and deploytool itself without
dependencies, so that :func:`deploytool.core.child.call_in_child` can run deploytool's functions
there (``python=python_for(name)``). `deploytool setup` (the README's set-up command) installs
them; a missing one is a one-line error naming that command, never a silent skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import deploytool
from deploytool.core.errors import UserError

MARKER = "deploytool-env.json"


@dataclass(frozen=True)
class SideEnvironment:
    """A named environment: what it is for and the requirements pip installs into it."""

    name: str
    purpose: str
    requirements: tuple[str, ...]


ENVIRONMENTS = {
    "mediapipe": SideEnvironment(
        "mediapipe", "MediaPipe Tasks: TFLite metadata written and read with MediaPipe's own "
        "writer, and its image tasks as a runtime", ("mediapipe==1.2.3",)),
}


def root() -> Path:
    """The folder that holds the environments."""
    return Path(os.environ.get("DEPLOYTOOL_ENVS") or Path(sys.prefix) / "deploytool-envs")


def location(name: str) -> Path:
    """Where environment ``name`` lives."""
    return root() / name


def python_for(name: str) -> str | None:
    """The interpreter of environment ``name``, or None when it is not installed (or was
    installed with other requirements)."""
    folder = location(name)
    python = folder / "bin" / "python"
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not python.exists() or marker.get("requirements") != list(ENVIRONMENTS[name].requirements):
        return None
    return str(python)


def require(name: str) -> str:
    """The interpreter of environment ``name``; a one-line error naming the set-up command when
    it is missing."""
    python = python_for(name)
    if python is None:
        raise EnvironmentMissing(name)
    return python


class EnvironmentMissing(UserError):
    """An environment of its own that is not installed."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"{name}'s environment is not installed ({location(name)}): run "
                         f"`deploytool setup` (it installs {', '.join(ENVIRONMENTS[name].requirements)})")


def deploytool_source() -> str:
    """What pip installs deploytool from in an environment: this checkout (editable) when
    deploytool runs from one, else the released version."""
    project = Path(deploytool.__file__).resolve().parents[1]
    if (project / "pyproject.toml").exists():
        return str(project)
    return f"deploytool=={deploytool.__version__}"


def install(name: str, log=lambda message: None) -> Path:
    """Create environment ``name`` from scratch: a virtual environment, its requirements and
    deploytool without dependencies, built beside its place and moved there when complete."""
    spec = ENVIRONMENTS[name]
    folder = location(name)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    log(f"{name}: creating {folder}")
    venv.EnvBuilder(with_pip=True, clear=True, symlinks=True).create(staging)
    python = str(staging / "bin" / "python")
    source = deploytool_source()
    for arguments in ([*spec.requirements],
                      ["--no-deps", *(["-e"] if Path(source).exists() else []), source]):
        log(f"{name}: pip install {' '.join(arguments)}")
        done = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace")
        if done.returncode != 0:
            lines = [line for line in done.stdout.splitlines() if line.strip()]
            raise UserError(f"installing {name}'s environment failed: "
                            f"{lines[-1] if lines else f'pip exit {done.returncode}'}")
    (staging / MARKER).write_text(json.dumps({"requirements": list(spec.requirements),
                                              "deploytool": source}))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def setup(force: bool = False, log=lambda message: None) -> dict[str, str]:
    """Install every environment that is missing (all of them with ``force``); returns each
    one's state: installed, already installed."""
    states = {}
    for name in ENVIRONMENTS:
        if python_for(name) is not None and not force:
            states[name] = "already installed"
            continue
        install(name, log)
        states[name] = "installed"
    return states
