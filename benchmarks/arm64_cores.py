"""Which ARM cores' kernels the ARM64 runtime covers: every .tflite under a folder (default: the
files benchmarks/mediapipe_clients.py wrote) run on the app's LiteRT (1.4, aarch64) under QEMU
as three cores, each with the features it shows to programs (the auxiliary vector XNNPACK reads):
a Cortex-A53 (a little core: NEON, no fp16 arithmetic, no int8 dot product), a Cortex-A76 (the
runtime's default: fp16 arithmetic and int8 dot products) and QEMU's "max" (every feature it
emulates: i8mm, SVE ...). Each file's outputs on the held-out photos are compared with x86
LiteRT's value for value.

    .venv/bin/python benchmarks/arm64_cores.py [--work /tmp/deploytool-mediapipe-clients]
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np

CORES = ("cortex-a53", "cortex-a76", "max")


def held_out_pixels(folder: Path, count: int = 64) -> np.ndarray:
    """The first ``count`` held-out photos (32x32 RGB crops), as 8-bit pixels."""
    from PIL import Image

    paths = sorted(folder.rglob("*.png"))[:count]
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in paths])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/deploytool-mediapipe-clients", type=Path)
    args = parser.parse_args()
    from deploytool.core.child import call_in_child
    from deploytool.core.environments import require
    from deploytool.core.manifest import Manifest
    from deploytool.core.runtime_agreement import agreement
    from deploytool.runtimes.isolation import run_isolated

    pixels = held_out_pixels(args.work / "held_out")
    results = {}
    folder = args.work / "artifacts"  # one sub-folder per kind, as mediapipe_clients writes them
    for artifact in sorted(path for path in folder.rglob("*.tflite") if path.parent != folder):
        manifest = Manifest.read(artifact)
        images = manifest.preprocessing.apply(pixels)
        x86 = run_isolated(artifact, "tflite", images)
        name = str(artifact.relative_to(args.work / "artifacts"))
        for core in CORES:
            os.environ["DEPLOYTOOL_ARM64_CPU"] = core
            features = call_in_child("deploytool.runtimes.litert_arm64_runner:cpu_features",
                                     python=require("arm64"), timeout=120).value
            arm = run_isolated(artifact, "litert_arm64", images)
            (found,) = agreement(arm.outputs, x86.outputs, arm.meta["outputs"], "tflite")
            results[f"{name} / {core}"] = {"features": features, **found.as_dict()}
            print(name, core, ",".join(features), f"{found.differing}/{found.values} differ,",
                  f"max abs {found.max_abs:.1e}, max steps {found.max_steps}", flush=True)
    (args.work / "arm64_cores.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
