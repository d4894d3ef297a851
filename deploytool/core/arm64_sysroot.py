"""The pieces of the ARM64 environment (:mod:`deploytool.core.environments`): a Debian arm64
sysroot with its Python, QEMU's user-mode emulator for it, and the aarch64 wheels of LiteRT.

Nothing here needs root or changes the system: Debian's packages come through ``apt-get
download`` with a package-list state of its own (the system's sources, both architectures), are
unpacked with ``dpkg -x``, and the wheels are installed by pip for the aarch64 platform into the
sysroot's own ``dist-packages``. A phone runs the same LiteRT build on its own cores; here every
aarch64 instruction is emulated (no binfmt_misc is needed: QEMU is started explicitly)."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

from deploytool.core.install_steps import HostUnsupported, run_step

# Debian 12 (bookworm) names: the emulated Python and the libraries it and LiteRT load
SYSROOT_PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
                    "libc6", "zlib1g", "libexpat1", "libffi8", "libssl3", "libbz2-1.0",
                    "liblzma5", "libstdc++6", "libgcc-s1")
EMULATOR_PACKAGE = "qemu-user-static"
EMULATOR = "qemu-aarch64-static"
PYTHON = "usr/bin/python3.11"
SITE = "usr/local/lib/python3.11/dist-packages"  # on the Debian Python's path, .pth files read
WHEEL_PLATFORM = "manylinux_2_17_aarch64"


def check_host() -> None:
    """Refuse a host the recipe does not serve: it needs Debian's apt-get and dpkg, and an
    x86-64 CPU (the emulator package is amd64's)."""
    missing = [tool for tool in ("apt-get", "dpkg") if shutil.which(tool) is None]
    if missing:
        raise HostUnsupported(f"the ARM64 environment is built from Debian packages: "
                              f"{' and '.join(missing)} not found (Debian 12 or later needed)")
    if platform.machine() not in ("x86_64", "AMD64"):
        raise HostUnsupported(f"the ARM64 environment emulates aarch64 on an x86-64 host; this "
                              f"one is {platform.machine()}")


def download_packages(folder: Path, log) -> list[Path]:
    """The sysroot's arm64 packages and the amd64 emulator, as .deb files in ``folder``."""
    state = folder / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    options = ["-q", "-o", f"Dir::State::Lists={state / 'lists'}",
               "-o", f"Dir::State::status={state / 'status'}", "-o", f"Dir::Cache={state / 'cache'}",
               "-o", "APT::Architecture=amd64", "-o", "APT::Architectures::=amd64",
               "-o", "APT::Architectures::=arm64", "-o", "Debug::NoLocking=1",
               "-o", "APT::Sandbox::User=root"]
    log("arm64: apt-get update (package lists of its own: amd64 and arm64)")
    run_step(["apt-get", *options, "update"], "apt-get update")
    names = [f"{EMULATOR_PACKAGE}:amd64", *(f"{name}:arm64" for name in SYSROOT_PACKAGES)]
    log(f"arm64: apt-get download {' '.join(names)}")
    debs = folder / "debs"
    debs.mkdir()
    run_step(["apt-get", *options, "download", *names], "apt-get download", cwd=debs)
    return sorted(debs.glob("*.deb"))


def unpack(debs: list[Path], sysroot: Path, bin_folder: Path) -> None:
    """The arm64 packages unpacked into ``sysroot``; of the emulator package, only the aarch64
    emulator, into ``bin_folder``."""
    for deb in debs:
        if deb.name.startswith(EMULATOR_PACKAGE + "_"):
            unpacked = deb.parent / "emulator"
            run_step(["dpkg", "-x", str(deb), str(unpacked)], f"dpkg -x {deb.name}")
            bin_folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(unpacked / "usr" / "bin" / EMULATOR, bin_folder / EMULATOR)
        else:
            run_step(["dpkg", "-x", str(deb), str(sysroot)], f"dpkg -x {deb.name}")


def install_wheels(sysroot: Path, requirements: tuple[str, ...], deploytool_source: str,
                   log) -> None:
    """``requirements`` (aarch64 wheels, with their dependencies) and deploytool itself (no
    dependencies; editable from a checkout) installed into the sysroot's ``dist-packages``."""
    site = sysroot / SITE
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
           "--no-warn-conflicts", "--target", str(site)]
    log(f"arm64: pip install {' '.join(requirements)} (aarch64 wheels)")
    run_step([*pip, "--platform", WHEEL_PLATFORM, "--python-version", "3.11", "--implementation",
          "cp", "--only-binary=:all:", *requirements], "pip install (aarch64)")
    editable = ["-e"] if Path(deploytool_source).exists() else []
    log(f"arm64: pip install --no-deps {' '.join(editable)} {deploytool_source}")
    run_step([*pip, "--no-deps", *editable, deploytool_source], "pip install deploytool")
