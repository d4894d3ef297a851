"""What the commands' help says that the registries decide (the formats convert writes, the
runtimes verify and bench run, the files inspect reads), and one example per command, shown
under its options."""

from __future__ import annotations

EXAMPLES = {
    "models": ["deploytool models resnet50 mobilenet_v2 --input-shape 224,224,3"],
    "train": ["deploytool train lenet_bn --data digits --epochs 10"],
    "convert": ["deploytool convert resnet50 --to tflite --int8",
                "deploytool convert my.keras --to onnx --int8 --calib-data images:photos/ "
                "--labels labels.txt --min-agreement 0.95"],
    "verify": ["deploytool verify artifacts/my_int8.tflite --data images:photos/"],
    "diagnose": ["deploytool diagnose artifacts/my_int8.tflite --plot diagnose.png"],
    "bench": ["deploytool bench artifacts/my_fp32.tflite artifacts/my_int8.tflite --threads 2"],
    "inspect": ["deploytool inspect artifacts/my_int8.onnx"],
    "optimize": ["deploytool optimize my.keras --runtime tflite --min-cosine 0.99 "
                 "--calib-data images:photos/"],
    "bundle": ["deploytool bundle artifacts/my_int8.tflite --labels labels.txt --app android_demo"],
    "run": ["deploytool run lenet_bn --data digits",
            "deploytool run my.keras --data images:photos/ --labels labels.txt"],
    "matrix": ["deploytool matrix lenet_bn resnet18",
               "deploytool matrix --fleet my-models/ --out fleet.md --ray-address 10.0.0.5:6379"],
    "own-models": ["deploytool own-models --outputs-only"],
    "setup": ["deploytool setup"],
}


def example(command: str) -> str:
    """The command's examples as a click epilog (``\\b`` keeps click from rewrapping them)."""
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command])


def formats_text() -> str:
    """The export targets in words: "TFLite (.tflite), ONNX (.onnx) or TF GraphDef (.pb)"."""
    from deploytool.converters.targets.registry import targets

    names = [f"{t.label} ({t.suffix})" for t in targets().values()]
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def runtimes_text() -> str:
    """The runtimes that run artifacts, in words."""
    from deploytool.runtimes.base import artifact_runtimes, runners

    names = [runners()[name].label for name in artifact_runtimes()]
    return ", ".join(names[:-1]) + f" and {names[-1]}"
