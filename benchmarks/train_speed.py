"""`deploytool train` throughput (images/s) of a zoo model on the offline digits, on every device
kind this machine has: the CPU always (CUDA hidden from the child), the GPU when TensorFlow sees
one. Each training runs in its own process through the CLI, as a user would run it; the figure is
metrics.json's images_per_second (training images x epochs / wall time).

    .venv/bin/python benchmarks/train_speed.py [MODEL] [--epochs 2] [--out /tmp/deploytool-train-speed]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from deploytool.core.child import call_in_child


def visible_gpus() -> int:
    """GPUs TensorFlow sees in this process."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def gpu_count() -> int:
    """GPUs TensorFlow sees, asked in a child so this process never initialises CUDA."""
    answer = call_in_child(f"{__file__}:visible_gpus")
    return answer.value if answer.ok else 0


def measure(model: str, device: str, epochs: int, out: Path) -> dict:
    """Train ``model`` on digits on ``device`` ("cpu" or "gpu") and read its metrics."""
    env = dict(os.environ)
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    folder = out / f"{model}-{device}"
    subprocess.run([sys.executable, "-m", "deploytool", "train", model, "--data", "digits",
                    "--epochs", str(epochs), "--out", str(folder)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    metrics = json.loads((folder / "metrics.json").read_text())
    return {"model": model, "device": device, "epochs": epochs,
            "images_per_second": round(metrics["images_per_second"], 1),
            "wall_seconds": round(metrics["wall_seconds"], 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="resnet50")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default="/tmp/deploytool-train-speed", type=Path)
    args = parser.parse_args()
    devices = ["cpu"] + (["gpu"] if gpu_count() else [])
    if devices == ["cpu"]:
        print("no GPU visible to TensorFlow here: CPU only")
    for device in devices:
        print(json.dumps(measure(args.model, device, args.epochs, args.out)), flush=True)


if __name__ == "__main__":
    main()
