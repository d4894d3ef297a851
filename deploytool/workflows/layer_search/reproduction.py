"""A minimal reproduction of a layer another runtime computes differently: the Keras layer that
produces the diverging tensor, alone in a one-layer model with its own weights, exported by the
artifact's target; both runtimes run it on one seeded random input, and a short Markdown text
ready for an upstream bug report says what differs and how to see it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from deploytool.converters.targets.registry import target
from deploytool.core.fileio import write_bytes
from deploytool.core.layer_diff import compare_layers
from deploytool.core.manifest import tool_versions


def keras_layer_for(model, tensor_name: str):
    """The layer of ``model`` whose name is one of the path parts of ``tensor_name`` (converters
    name tensors ``model/<layer>/<op>``; a fused op joins several with ';'), the last named
    first; None if no part names a layer."""
    parts = [part for piece in tensor_name.split(";") for part in re.split(r"[/:]", piece)]
    names = {layer.name for layer in model.layers}
    for part in reversed(parts):
        if part in names and part != model.name:
            return model.get_layer(part)
    return None


def one_layer_model(layer):
    """``layer`` alone, with its weights, on an input of its input's shape (None when it takes
    several inputs)."""
    from deploytool.core.keras_env import keras

    shape = layer.input.shape if not isinstance(layer.input, (list, tuple)) else None
    if shape is None:
        return None
    clone = type(layer).from_config(layer.get_config())
    inputs = keras.Input(tuple(shape[1:]), batch_size=1)
    model = keras.Model(inputs, clone(inputs))
    clone.set_weights(layer.get_weights())
    return model


def write_reproduction(manifest, options, report, folder: Path, log=lambda message: None) -> dict:
    """Write the one-layer model of ``report.first`` (a :class:`~.runtime_diff.RuntimeDiff`)
    into ``folder`` with a ``.md`` bug text, and run it on both runtimes; the record says where
    they are and whether the layer alone shows the divergence."""
    from deploytool.runtimes.opencv_runner import opencv_layer_outputs
    from deploytool.sources.keras_files import load_keras_file

    first = report.first
    reference = load_keras_file(manifest.reference)
    layer = keras_layer_for(reference, first.name)
    if layer is None:
        return {"written": False, "why": f"no Keras layer of the reference is named in {first.name}"}
    model = one_layer_model(layer)
    if model is None:
        return {"written": False, "why": f"{layer.name} takes several inputs"}
    chosen = target(manifest.format)
    exported = chosen.export(model, "fp32", None, options)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"repro_{layer.name}")
    path = write_bytes(folder / f"{stem}{chosen.suffix}", exported.data)
    for suffix, data in exported.side_files.items():
        write_bytes(path.with_suffix(suffix), data)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    image = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    own = chosen.tensors(path.read_bytes(), image, options)
    try:
        other = opencv_layer_outputs(path, image)
        rows, _ = compare_layers(own, other)
        worst = max(rows, key=lambda row: row.relative) if rows else None
    except RuntimeError as exc:
        worst, error = None, str(exc)
    else:
        error = None
    shows = worst is not None and worst.relative > report.bar
    record = {"written": True, "model": str(path), "layer": layer.name,
              "layer_class": type(layer).__name__, "input_shape": list(shape),
              "max_abs": worst.max_abs if worst else None,
              "relative": worst.relative if worst else None, "error": error,
              "reproduces": shows or error is not None}
    text = bug_text(report, record, layer, path)
    write_bytes(path.with_suffix(".md"), text.encode())
    record["text"] = str(path.with_suffix(".md"))
    log(f"minimal reproduction: {path.name} ({type(layer).__name__} alone): "
        + (f"max abs {worst.max_abs:.2e}, relative {worst.relative:.1e}" if worst else error or "-"))
    return record


def bug_text(report, record: dict, layer, path: Path) -> str:
    """The Markdown of an upstream bug report for the reproduction ``record``."""
    versions = tool_versions()
    config = json.dumps(layer.get_config(), default=str)
    loader = {".tflite": "cv2.dnn.readNetFromTFLite", ".onnx": "cv2.dnn.readNetFromONNX",
              ".pb": "cv2.dnn.readNetFromTensorflow"}[path.suffix]
    layout = "x" if path.suffix == ".onnx" else "x.transpose(0, 3, 1, 2)"
    found = (f"max abs difference {record['max_abs']:.3e} (relative to the largest value: "
             f"{record['relative']:.2e})" if record["max_abs"] is not None else
             f"OpenCV fails: {record['error']}")
    return f"""# OpenCV dnn computes {report.first.op} ({record['layer_class']}) differently from {report.runtime}

Versions: {', '.join(f'{name} {version}' for name, version in versions.items())}; CPU.

`{path.name}` holds one {record['layer_class']} layer with its weights (input
{'x'.join(map(str, record['input_shape']))}, batch 1), exported by deploytool from a Keras model. On a
seeded uniform random input, OpenCV's output differs from {report.runtime}'s: {found}.
In the full model, {report.artifact}, this layer ({report.first.name}) is the first whose output
differs (relative {report.first.relative:.1e}; before it at most
{report.before if report.before is not None else 0:.1e}).
{'The layer alone shows it.' if record['reproduces'] else 'The layer alone does not show it: the cause lies in how it meets its neighbours in the full model.'}

Keras layer: `{config[:600]}`

```python
import cv2, numpy as np
x = np.random.default_rng(0).random((1, {', '.join(map(str, record['input_shape']))}), dtype=np.float32)  # NHWC
net = {loader}("{path.name}")
net.setInput({layout})
print(net.forward())
```
"""
