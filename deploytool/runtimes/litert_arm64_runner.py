"""LiteRT as the Android app bundles it (ai-edge-litert 1.4, the aarch64 build) on an emulated
ARM64 CPU: the phone's own kernels (XNNPACK's NEON, fp16 and int8 dot-product paths, chosen by
the CPU features the emulated core reports), not x86's.

It runs in the ARM64 environment (:mod:`deploytool.core.environments`: a Debian arm64 sysroot
started by QEMU's user-mode emulator), which :mod:`.isolation` starts for it. Its timings are an
emulator's, not a phone's (``emulated``). Verify compares its outputs value for value with x86
LiteRT's on the same images as well (``compared_with``)."""

from __future__ import annotations

import os
import platform

from deploytool.core.errors import UserError
from deploytool.runtimes.tflite_runner import TFLiteRunner

# the Linux hwcap bits (arch/arm64/include/uapi/asm/hwcap.h) that decide XNNPACK's kernels
HWCAP_FEATURES = {1: "asimd", 9: "fphp", 10: "asimdhp", 20: "asimddp", 22: "sve"}
HWCAP2_FEATURES = {1: "sve2", 13: "i8mm", 14: "bf16"}
AT_HWCAP, AT_HWCAP2 = 16, 26


def cpu_features() -> list[str]:
    """The features this (emulated) CPU reports to programs through the auxiliary vector, the
    same source XNNPACK's cpuinfo reads on Linux."""
    import ctypes

    getauxval = ctypes.CDLL(None).getauxval
    getauxval.restype = ctypes.c_ulong
    getauxval.argtypes = [ctypes.c_ulong]
    found = []
    for vector, names in ((AT_HWCAP, HWCAP_FEATURES), (AT_HWCAP2, HWCAP2_FEATURES)):
        bits = getauxval(vector)
        found += [name for bit, name in names.items() if bits >> bit & 1]
    return found


class LiteRTArm64Runner(TFLiteRunner):
    """The app's LiteRT on an emulated ARM64 core, one image at a time."""

    name = "litert_arm64"
    label = "LiteRT 1.4 on ARM64 (emulated)"
    order = 7
    environment = "arm64"
    emulated = True
    compared_with = "tflite"

    def _load(self):
        if platform.machine() != "aarch64":
            raise UserError(f"{self.label} runs in the ARM64 environment only (this process is "
                            f"{platform.machine()})")
        import ai_edge_litert

        super()._load()
        version = getattr(ai_edge_litert, "__version__", None) or _installed_version()
        core = os.environ.get("DEPLOYTOOL_ARM64_CPU", "aarch64")
        self.engine = f"LiteRT {version} on {core} ({', '.join(cpu_features())})"


def _installed_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")
