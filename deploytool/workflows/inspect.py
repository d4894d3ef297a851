"""`deploytool inspect`: what is inside an artifact of any registered format (each target parses
its own files without TensorFlow) or a Keras model file: inputs and outputs (shape, dtype,
quantization), op histogram, weight sizes by dtype, and the manifest next to it. A file whose
sha256 differs from the manifest beside it is reported as such."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from deploytool.converters.targets.registry import target_for, targets
from deploytool.core.errors import UserError
from deploytool.core.fileio import size_of
from deploytool.core.manifest import Manifest, integrity_failures, read_manifest
from deploytool.core.tensors import tensor_entry


def inspect_keras(path: Path, unsafe: bool = False) -> dict:
    """Load a Keras model file safely and describe its layers and weights."""
    from deploytool.core.keras_env import is_keras3_model  # TensorFlow: only for Keras files
    from deploytool.core.model_outputs import output_names
    from deploytool.sources.keras_files import load_keras_file

    model = load_keras_file(path, unsafe)
    dtype = lambda value: np.dtype(getattr(value, "name", value)).name  # noqa: E731 (Keras 3: str)
    weights = Counter()
    for weight in model.weights:
        weights[dtype(weight.dtype)] += int(np.prod(weight.shape)) * np.dtype(dtype(weight.dtype)).itemsize
    names = output_names(model)
    return {"format": "keras", "name": model.name,
            "saved_by": "Keras 3" if is_keras3_model(model) else "tf_keras (Keras 2)",
            "inputs": [tensor_entry(t.name, list(t.shape), dtype(t.dtype)) for t in model.inputs],
            "outputs": [tensor_entry(name, list(t.shape), dtype(t.dtype))
                        for name, t in zip(names, model.outputs)],
            "ops": dict(Counter(type(layer).__name__ for layer in model.layers).most_common()),
            "weight_bytes": dict(weights), "parameters": int(model.count_params())}


def inspect_file(path, unsafe: bool = False) -> dict:
    """Describe an artifact of any registered format (each target parses its own files without
    TensorFlow) or a Keras model file, with its size and manifest."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    artifact_target = target_for(path) if path.is_file() else None
    if artifact_target is not None:
        report = artifact_target.inspect(path)
    elif path.is_dir() or suffix in (".keras", ".h5", ".hdf5"):
        report = inspect_keras(path, unsafe)
    else:
        kinds = ", ".join(t.suffix for t in targets().values())
        raise UserError(f"{path}: not a model file ({kinds}, .keras, .h5 or a SavedModel folder)")
    record = read_manifest(path) if path.is_file() else None
    summary = integrity = None
    if record is not None:
        try:
            manifest = Manifest.from_record(path, record)
        except UserError as exc:
            integrity = str(exc)
        else:
            summary, integrity = manifest.summary(), (integrity_failures(path, manifest) or ["ok"])[0]
    return {"file": str(path), "size_bytes": size_of(path), **report, "manifest": record,
            "manifest_summary": summary, "integrity": integrity}
