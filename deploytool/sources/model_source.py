"""Where a model comes from: a zoo name (optionally with weights), a run folder written by
`deploytool train`, or a model file (tf_keras .keras/.h5, a .keras saved by stock Keras 3, a
SavedModel folder, screened by :mod:`.keras_files`). Every source becomes a model plus what the
manifest must record: a ``tf_keras`` model wherever one computes the same numbers (deploytool's
own passes need it), else the Keras 3 model itself, which is then converted through the Keras that
saved it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.fileio import sha256_file
from deploytool.core.keras_env import keras
from deploytool.core.preprocessing import Preprocessing, preprocessing_from_options
from deploytool.sources.custom_objects import import_custom_objects
from deploytool.sources.input_size import with_input_size
from deploytool.sources.keras3 import RebuildError, rebuild_as_tf_keras
from deploytool.sources.labels import labels_for_model
from deploytool.sources.signatures import ENDPOINT, is_signature_folder
from deploytool.sources.keras_files import (guarded_load, is_keras3_metadata, load_keras_file,
                                            read_keras_zip)

RUN_MODEL = "model.keras"
RUN_PREPROCESSING = "preprocessing.json"
RUN_LABELS = "labels.txt"
REBUILD_CHECK_IMAGES = 8
ZOO_INPUT_SHAPE = (224, 224, 3)  # a zoo model's input unless told otherwise


@dataclass
class ModelSource:
    """A loaded source: the model and what convert/verify need to know about it."""

    model: object  # a tf_keras model, or a Keras 3 one where no exact tf_keras twin exists
    # zoo | run | keras | keras3 | h5 | savedmodel | signature (a SavedModel read through its
    # serving signature) | subclassed (a subclassed model, read through its own export)
    kind: str
    name: str  # stem for artifact file names
    description: dict
    preprocessing: Preprocessing
    labels: list[str] | None = None
    trained: bool = True
    dataset: str | None = None
    reference_path: Path | None = None  # a file that reproduces the model exactly, if any
    notes: list[str] = field(default_factory=list)
    # which Keras runs the passes and the export, and why (the manifest's conversion path)
    framework: str = "tf_keras"  # tf_keras | keras3
    framework_reason: str | None = None
    free_input: bool = False  # the file leaves the input's height and width free


def _model_input_shape(model) -> tuple:
    """(H, W, C) of a model whose one image input has a fixed size."""
    return tuple(int(d) for d in model.inputs[0].shape[1:])


def _preprocessing(input_shape, preprocess: dict | None, default: Preprocessing | None = None):
    """The user's preprocessing (``preprocess``: preset, mean, std, channel_order, fit) if any, else
    ``default``, else 0..1."""
    chosen = preprocessing_from_options(input_shape, **(preprocess or {}), default=default)
    return chosen or default or Preprocessing.for_input_shape(input_shape)


def _exact_tf_keras_twin(original, preprocessing: Preprocessing):
    """The tf_keras rebuild of a Keras 3 model and None, or None and the reason it is not exact:
    no twin layer, or outputs that differ by more than float32 round-off on a few of the images
    the model will be calibrated and verified on."""
    from deploytool.core.roundoff import float32_roundoff, fp32_max_abs, output_at
    from deploytool.sources.calibration import calibration_set

    try:
        rebuilt = rebuild_as_tf_keras(original)
    except RebuildError as exc:
        return None, str(exc)
    images = calibration_set(None, preprocessing, REBUILD_CHECK_IMAGES, seed=0).images
    expected, produced = original.predict_on_batch(images), rebuilt.predict_on_batch(images)
    for index in range(len(original.outputs)):  # every output, each within its own round-off
        wanted = output_at(original, expected, index)
        difference = float(np.max(np.abs(output_at(rebuilt, produced, index) - wanted)))
        if difference <= fp32_max_abs(None):
            continue
        roundoff = float32_roundoff(original, images, wanted, index)
        if difference > fp32_max_abs(roundoff):
            return None, (f"the tf_keras rebuild differs by {difference:.1e} on output {index}, "
                          f"beyond float32 round-off ({roundoff or 0:.1e})")
    return rebuilt, None


def _file_source(path: Path, unsafe: bool, preprocess: dict | None = None,
                 input_shape=None, custom_objects: dict | None = None) -> ModelSource:
    loaded = load_keras_file(path, unsafe, custom_objects)
    model = with_input_size(loaded, input_shape, path)
    kind = "savedmodel" if path.is_dir() else ("h5" if path.suffix.lower() in (".h5", ".hdf5") else "keras")
    if is_signature_folder(path):
        kind = "signature"
    exported = getattr(loaded, "exported_from", None)  # a subclassed model, read through its export
    if exported is not None:
        kind = "subclassed"
    if kind == "keras" and is_keras3_metadata(read_keras_zip(path)[1]):
        kind = "keras3"
    preprocessing = _preprocessing(_model_input_shape(model), preprocess)
    framework, reason, notes = "tf_keras", None, []
    description = {"kind": kind, "path": str(path), "sha256": sha256_file(path)}
    if model is not loaded:
        description["input_shape"] = list(_model_input_shape(model))
        notes.append(f"input fixed at {','.join(map(str, _model_input_shape(model)))} (the file "
                     f"leaves {tuple(loaded.inputs[0].shape[1:])} free)")
    if kind == "signature":
        framework, reason = "keras3", "a SavedModel with only a serving signature, read through it"
        notes.append(f"converting the SavedModel's '{ENDPOINT}' signature through Keras 3 "
                     "(no Keras model in the folder); verified against the same signature")
    elif kind == "subclassed":
        framework, reason = "keras3", "a subclassed model, exported and read through its signature"
        notes.append("a subclassed model (its call is Python code): exported as a SavedModel "
                     f"and converted from its '{ENDPOINT}' signature, which verify compares with")
    elif kind == "keras3":
        rebuilt, reason = _exact_tf_keras_twin(model, preprocessing)
        if rebuilt is not None:
            model, reason = rebuilt, "rebuilt layer by layer as tf_keras (outputs checked equal)"
        else:
            framework = "keras3"
            notes.append(f"converting through Keras 3 itself (its SavedModel into the converters, "
                         f"which fold BatchNorm themselves): no exact tf_keras twin, {reason}")
    free = all(d is None for d in tuple(loaded.inputs[0].shape)[1:3])
    return ModelSource(model, kind, path.stem if not path.is_dir() else path.name, description,
                       preprocessing, reference_path=exported or path, notes=notes,
                       framework=framework, framework_reason=reason, free_input=free)


def _run_source(path: Path, unsafe: bool, preprocess: dict | None = None,
                input_shape=None) -> ModelSource:
    model = with_input_size(load_keras_file(path / RUN_MODEL, unsafe), input_shape, path)
    record = json.loads((path / RUN_PREPROCESSING).read_text())
    labels_file = path / RUN_LABELS
    labels = labels_file.read_text().splitlines() if labels_file.exists() else None
    preprocessing = _preprocessing(_model_input_shape(model), preprocess,
                                   Preprocessing.from_dict(record))
    return ModelSource(model, "run", path.name,
                       {"kind": "run", "path": str(path), "model": RUN_MODEL,
                        "sha256": sha256_file(path / RUN_MODEL)},
                       preprocessing, labels, dataset=record.get("dataset"),
                       reference_path=path / RUN_MODEL)


def _zoo_source(name: str, weights, input_shape, num_classes, width, seed,
                preprocess: dict | None = None) -> ModelSource:
    from deploytool.models import create_model

    keras.utils.set_random_seed(seed)
    model = create_model(name, input_shape=input_shape, num_classes=num_classes, width=width)
    description = {"kind": "zoo", "name": name, "input_shape": list(input_shape),
                   "num_classes": num_classes, "width": width, "seed": seed, "weights": None}
    notes = []
    if weights:
        weights = Path(weights)
        if not weights.exists():
            raise UserError(f"{weights}: no such weights file")
        guarded_load(weights, lambda: model.load_weights(weights))
        description.update(weights=str(weights), weights_sha256=sha256_file(weights))
    else:
        notes.append(f"converting an untrained {name} (random weights, seed {seed}); "
                     "pass --weights or a run folder for a trained model")
    return ModelSource(model, "zoo", name, description, _preprocessing(input_shape, preprocess),
                       trained=bool(weights), notes=notes)


def check_finite_weights(model, origin) -> None:
    """Refuse a model with NaN or infinite weights: nothing computed from it means anything."""
    for layer in model.layers:
        for weight in layer.weights:
            if not np.all(np.isfinite(weight.numpy())):
                raise UserError(f"{origin}: layer '{layer.name}' has NaN or infinite weights "
                                f"({weight.name})")


def load_source(spec: str, *, weights=None, input_shape=None, num_classes: int = 1000,
                width: float = 1.0, unsafe: bool = False, seed: int = 0,
                preprocess: dict | None = None, custom_objects=None, labels=None) -> ModelSource:
    """Resolve ``spec`` (zoo name, run folder or model file) to a :class:`ModelSource`.
    ``weights``, ``num_classes`` and ``width`` apply to zoo names only; ``input_shape`` (H, W, C)
    is a zoo model's size (default 224x224x3) and the size a model file with free spatial
    dimensions is fixed at;
    ``preprocess`` (preset, mean, std, channel_order: see
    :func:`~deploytool.core.preprocessing.preprocessing_from_options`) is the input the model
    expects; ``custom_objects`` is a Python file defining the model's own classes (run only with
    ``unsafe``); ``labels`` a file of its class names, one per line (replacing a run folder's)."""
    from deploytool.models import get_spec, list_models

    path = Path(spec)
    if spec in list_models():
        source = _zoo_source(spec, weights, input_shape or ZOO_INPUT_SHAPE, num_classes, width,
                             seed, preprocess)
    elif weights:
        raise UserError("--weights applies to zoo model names only")
    elif path.is_dir() and (path / RUN_MODEL).exists() and (path / RUN_PREPROCESSING).exists():
        source = _run_source(path, unsafe, preprocess, input_shape)
    elif path.exists():
        classes = import_custom_objects(custom_objects, unsafe) if custom_objects else None
        source = _file_source(path, unsafe, preprocess, input_shape, classes)
    elif "/" not in spec and not path.suffix:
        get_spec(spec)  # raises with the closest zoo names
        raise AssertionError("unreachable")  # pragma: no cover
    else:
        raise UserError(f"{spec}: no such file or directory")
    check_finite_weights(source.model, spec)
    if labels is not None:
        source.labels = labels_for_model(labels, source.model)
    return source
