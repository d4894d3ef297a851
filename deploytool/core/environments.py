"""Python environments of their own, for libraries that cannot share deploytool's: MediaPipe
(it pulls opencv-contrib-python, whose files overwrite opencv-python-headless's ``cv2``), and the
phone's LiteRT on an emulated ARM64 CPU. Each lives inside the main environment's folder
(``<sys.prefix>/deploytool-envs/<name>``, or under ``$DEPLOYTOOL_ENVS``), holding its own
requirements and deploytool itself without dependencies, so that
:func:`deploytool.core.child.call_in_child` can run deploytool's functions there
(``python=python_for(name)``). `deploytool setup` (the README's set-up command) installs
them; a missing one is a one-line error naming that command, never a silent skip."""

from __future__ import annotations

import json
import os
import shutil
import sys
import venv
from pathlib import Path

import deploytool
from deploytool.core import arm64_sysroot
from deploytool.core.child import Interpreter
from deploytool.core.errors import UserError
from deploytool.core.install_steps import HostUnsupported, run_step

MARKER = "deploytool-env.json"


class SideEnvironment:
    """A named environment: what it is for, the requirements that make it (recorded in its
    folder, so that a changed list counts as not installed), how to build it in a folder and how
    to start its Python."""

    def __init__(self, name: str, purpose: str, requirements: tuple[str, ...]):
        self.name, self.purpose, self.requirements = name, purpose, requirements

    def interpreter(self, folder: Path) -> Interpreter:
        """How to start the environment's Python, built in ``folder``."""
        return Interpreter((str(folder / "bin" / "python"),))

    def executable(self, folder: Path) -> Path:
        """The file whose presence says the environment's Python is there."""
        return folder / "bin" / "python"

    def build(self, folder: Path, log) -> None:
        """Make the environment in the empty ``folder``: a virtual environment with its
        requirements and deploytool without dependencies."""
        venv.EnvBuilder(with_pip=True, clear=True, symlinks=True).create(folder)
        python = str(folder / "bin" / "python")
        source = deploytool_source()
        for arguments in ([*self.requirements],
                          ["--no-deps", *(["-e"] if Path(source).exists() else []), source]):
            log(f"{self.name}: pip install {' '.join(arguments)}")
            run_step([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                      *arguments], f"installing {self.name}'s environment")


class Arm64Environment(SideEnvironment):
    """LiteRT's aarch64 build in a Debian arm64 sysroot, run by QEMU's user-mode emulator as
    the CPU model :func:`arm64_cpu` names (:mod:`deploytool.core.arm64_sysroot`)."""

    def interpreter(self, folder: Path) -> Interpreter:
        sysroot, cpu = folder / "sysroot", arm64_cpu()
        return Interpreter((str(folder / "bin" / arm64_sysroot.EMULATOR), "-L", str(sysroot),
                            "-cpu", cpu, str(sysroot / arm64_sysroot.PYTHON)),
                           (("PYTHONPATH", ""), ("PYTHONHOME", ""), ("PYTHONNOUSERSITE", "1"),
                            ("DEPLOYTOOL_ARM64_CPU", cpu)))

    def executable(self, folder: Path) -> Path:
        return folder / "bin" / arm64_sysroot.EMULATOR

    def build(self, folder: Path, log) -> None:
        arm64_sysroot.check_host()
        downloads = folder / "downloads"
        downloads.mkdir(parents=True)
        debs = arm64_sysroot.download_packages(downloads, log)
        arm64_sysroot.unpack(debs, folder / "sysroot", folder / "bin")
        arm64_sysroot.install_wheels(folder / "sysroot", self.requirements, deploytool_source(),
                                     log)
        shutil.rmtree(downloads)


def arm64_cpu() -> str:
    """The ARM core QEMU emulates: ``$DEPLOYTOOL_ARM64_CPU``, default a Cortex-A76 (the big core
    of many phones since 2019: NEON, fp16 arithmetic and int8 dot products, no i8mm or SVE)."""
    return os.environ.get("DEPLOYTOOL_ARM64_CPU") or DEFAULT_ARM64_CPU


DEFAULT_ARM64_CPU = "cortex-a76"
# the LiteRT the Android app bundles; bundle writes it into the app's gradle.properties
PHONE_LITERT_VERSION = "1.4.0"

ENVIRONMENTS = {environment.name: environment for environment in (
    SideEnvironment("mediapipe", "MediaPipe Tasks: TFLite metadata written and read with "
                    "MediaPipe's own writer, and its image tasks as a runtime",
                    ("mediapipe==1.2.3",)),
    Arm64Environment("arm64", f"LiteRT {PHONE_LITERT_VERSION} (the Android app's) on an "
                     "emulated ARM64 CPU, with its own kernels",
                     (f"ai-edge-litert=={PHONE_LITERT_VERSION}", "numpy==1.26.4")),
)}


def root() -> Path:
    """The folder that holds the environments."""
    return Path(os.environ.get("DEPLOYTOOL_ENVS") or Path(sys.prefix) / "deploytool-envs")


def location(name: str) -> Path:
    """Where environment ``name`` lives."""
    return root() / name


def python_for(name: str) -> Interpreter | None:
    """How to start environment ``name``'s Python, or None when it is not installed (or was
    installed with other requirements)."""
    environment, folder = ENVIRONMENTS[name], location(name)
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not environment.executable(folder).exists() or \
            marker.get("requirements") != list(environment.requirements):
        return None
    return environment.interpreter(folder)


def require(name: str) -> Interpreter:
    """How to start environment ``name``'s Python; a one-line error naming the set-up command
    when it is missing."""
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
    """Create environment ``name`` from scratch, built beside its place and moved there when
    complete."""
    environment = ENVIRONMENTS[name]
    folder = location(name)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    log(f"{name}: creating {folder}")
    try:
        environment.build(staging, log)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / MARKER).write_text(json.dumps({"requirements": list(environment.requirements),
                                              "deploytool": deploytool_source()}))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def setup(force: bool = False, log=lambda message: None) -> dict[str, str]:
    """Install every environment that is missing (all of them with ``force``); returns each
    one's state: installed, already installed, or not installed and why, on a host its recipe
    does not serve (its runtime is then n/a, with that reason)."""
    states = {}
    for name in ENVIRONMENTS:
        if python_for(name) is not None and not force:
            states[name] = "already installed"
            continue
        try:
            install(name, log)
        except HostUnsupported as unsupported:
            states[name] = f"not installed: {unsupported}"
            continue
        states[name] = "installed"
    return states
