"""`deploytool inspect`: what is inside an artifact or a Keras file."""

from __future__ import annotations

import json
import sys

import click

from deploytool.cli.help_texts import example, formats_text
from deploytool.cli.main import main
from deploytool.cli.options import json_option
from deploytool.cli.tables import print_table, stdout


@main.command("inspect", epilog=example("inspect"), help=(
    f"Show what is inside FILE, a {formats_text()} artifact or a Keras model file: tensors, "
    "quantization, ops, weights and manifest."))
@click.argument("file", type=click.Path())
@click.option("--unsafe", is_flag=True, help="Allow Keras files whose Lambda/custom layers run code.")
@json_option()
def inspect_command(file, unsafe, as_json):
    """Show what is inside FILE (help: the registry's formats)."""
    from deploytool.workflows.inspect import inspect_file

    report = inspect_file(file, unsafe)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        print_inspection(report)
    if report.get("integrity") not in (None, "ok"):
        click.echo(f"deploytool: {report['file']}: {report['integrity']}", err=True)
        sys.exit(1)


def print_inspection(report: dict) -> None:
    """The human-readable form of an inspect report."""
    saved_by = f" saved by {report['saved_by']}" if report.get("saved_by") else ""
    stdout.print(f"[bold]{report['file']}[/bold]: {report['format']}{saved_by}, "
                 f"{report['size_bytes'] / 1e6:.2f} MB")

    def tensor_cells(kind, tensor):
        quant = tensor.get("quantization") or {}
        return (kind[:-1], tensor["name"], str(tensor["shape"]), tensor["dtype"],
                str(quant.get("scale", "-")), str(quant.get("zero_point", "-")))

    print_table("inputs and outputs", ("", "name", "shape", "dtype", "scale", "zero point"),
                [tensor_cells(kind, tensor) for kind in ("inputs", "outputs")
                 for tensor in report[kind]])
    print_table("ops" if report["format"] != "keras" else "layers", ("op", "count"),
                ((op, str(count)) for op, count in report["ops"].items()), right=("count",))
    weights = ", ".join(f"{dtype} {size / 1e6:.2f} MB" for dtype, size in report["weight_bytes"].items())
    stdout.print(f"weights: {weights or 'none'}")
    if "metadata" in report:
        text = (onnx_metadata_text(report["metadata"]) if report["format"] == "onnx"
                else metadata_text(report["metadata"]))
        stdout.print(f"metadata: {text}")
    if report.get("gpu") is not None:
        from deploytool.converters.targets.tflite.gpu_readiness import describe

        stdout.print(f"phone GPU (LiteRT GPU delegate): {describe(report['gpu'])}")
    if report.get("manifest_summary"):
        summary = report["manifest_summary"]
        stdout.print(f"manifest: from {summary['source']}, {summary['precision']}, sha256 "
                     f"{summary['sha256'][:16]}..., parity "
                     f"{'pass' if summary['parity_passed'] else 'FAIL'}, file {report['integrity']}")


def metadata_text(metadata: dict | None) -> str:
    """One line about a file's TFLite Model Metadata: what the standard clients read from it."""
    if metadata is None:
        return "none (MediaPipe Tasks and the Task Library cannot feed this file by themselves)"
    if "unread" in metadata:
        return f"not read: {metadata['unread']}"
    image = next(iter(metadata["inputs"]), {})
    labels = {name: len(lines) for name, lines in metadata["associated_files"].items()}
    outputs = "; ".join(f"{o['name']}: {o['description']}" for o in metadata["outputs"])
    return (f"{metadata['name']} ({metadata['version']}, by {metadata['author']}); input "
            f"{image.get('color_space')}, mean {image.get('mean')}, std {image.get('std')}; "
            f"outputs {outputs}; label files "
            + (", ".join(f"{name} ({count})" for name, count in labels.items()) or "none"))


def onnx_metadata_text(metadata: dict) -> str:
    """One line about an .onnx file's metadata_props and doc string."""
    props = metadata["props"]
    if not props:
        return "none"
    preprocessing = props.get("deploytool.preprocessing") or {}
    labels = props.get("deploytool.labels")
    words = [f"{key}={value}" for key, value in props.items() if key.startswith("Image.")]
    if preprocessing:
        words.append(f"input {preprocessing.get('formula')}, {preprocessing.get('layout')}")
    if props.get("deploytool.outputs"):
        words.append("outputs " + ", ".join(f"{n} ({k})" for n, k in props["deploytool.outputs"].items()))
    words.append(f"{len(labels)} labels" if labels else "no labels")
    others = [key for key in props if not key.startswith(("Image.", "deploytool."))]
    if others:
        words.append(f"other keys: {', '.join(others)}")
    return "; ".join(words)
