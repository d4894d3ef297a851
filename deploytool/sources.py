"""Where a model comes from: a zoo name (optionally with weights), a run folder written by
`deploytool train`, or a model file (tf_keras .keras/.h5, a .keras saved by stock Keras 3, a
SavedModel folder). Every source becomes a ``tf_keras`` model plus what the manifest must record.

Model files are screened before loading: a Lambda layer or a custom (non-Keras) layer would run
code from the file, so such files are refused unless the caller passes ``unsafe=True``.
"""

from __future__ import annotations

import inspect
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .fileio import sha256_file
from .keras_env import keras
from .preprocessing import Preprocessing
from .untrusted import check_archive

RUN_MODEL = "model.keras"
RUN_PREPROCESSING = "preprocessing.json"
RUN_LABELS = "labels.txt"
# Layers whose config names TensorFlow ops rather than holding Python code.
SAFE_OP_LAYERS = {"TFOpLambda", "SlicingOpLambda"}
CONTAINERS = {"Functional", "Sequential", "Model"}


@dataclass
class ModelSource:
    """A loaded source: the model and what convert/verify need to know about it."""

    model: object
    kind: str  # zoo | run | keras | keras3 | h5 | savedmodel
    name: str  # stem for artifact file names
    description: dict
    preprocessing: Preprocessing
    labels: list[str] | None = None
    trained: bool = True
    dataset: str | None = None
    reference_path: Path | None = None  # a file that reproduces the model exactly, if any
    notes: list[str] = field(default_factory=list)


# --- screening ---------------------------------------------------------------------------------
def _unsafe_layers(config) -> list[str]:
    """Descriptions of the layers in a (nested) Keras config that would execute code on loading."""
    found = []
    layers = config.get("config", {}).get("layers", []) if isinstance(config, dict) else []
    for layer in layers:
        class_name = layer.get("class_name", "")
        name = layer.get("config", {}).get("name", layer.get("name", "?"))
        module = layer.get("module") or "keras"
        if class_name in CONTAINERS:
            found.extend(_unsafe_layers(layer))
        elif class_name == "Lambda":
            found.append(f"Lambda layer '{name}'")
        elif class_name in SAFE_OP_LAYERS:
            continue
        elif not module.startswith("keras") or not hasattr(keras.layers, class_name) or \
                layer.get("registered_name") not in (None, class_name):
            found.append(f"custom layer '{name}' ({class_name})")
    return found


def _refuse_unsafe(path: Path, config: dict, unsafe: bool) -> None:
    risky = _unsafe_layers(config)
    if risky and not unsafe:
        more = f" and {len(risky) - 1} more" if len(risky) > 1 else ""
        raise UserError(f"{path}: {risky[0]}{more} would run code from the file when loaded; "
                        "pass --unsafe only if you trust it")


def _read_keras_zip(path: Path) -> tuple[dict, dict]:
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive(path, archive)
            config = json.loads(archive.read("config.json"))
            metadata = json.loads(archive.read("metadata.json")) if "metadata.json" in archive.namelist() else {}
    # what zipfile raises on damaged archives (NotImplementedError: an unknown compression method)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, EOFError,
            NotImplementedError, RuntimeError) as exc:
        raise UserError(f"{path}: not a readable .keras file ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0][:160]})") from None
    if not isinstance(config, dict) or not isinstance(metadata, dict):
        raise UserError(f"{path}: not a readable .keras file (config.json is not an object)")
    return config, metadata


def _read_h5_config(path: Path) -> dict:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
    except OSError as exc:
        raise UserError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raise UserError(f"{path}: HDF5 file holds weights only, no model; use it with --weights")
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


# --- Keras 3 -> tf_keras -----------------------------------------------------------------------
def _layer_kwargs(cls) -> set[str]:
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters)
    return names | {"name", "trainable", "dtype"}


def _translate_layer_config(class_name: str, config: dict) -> dict:
    cls = getattr(keras.layers, class_name, None)
    if cls is None:
        raise UserError(f"layer type {class_name} of this Keras 3 model has no Keras 2 equivalent")
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"].get("config", {}).get("name", "float32")
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        return {"batch_input_shape": shape, "dtype": config.get("dtype", "float32"),
                "name": config["name"], "sparse": bool(config.get("sparse")),
                "ragged": bool(config.get("ragged"))}
    allowed = _layer_kwargs(cls)
    # weights are copied afterwards, so initializers, regularizers and constraints are not needed
    return {key: value for key, value in config.items() if key in allowed and
            not key.endswith(("_initializer", "_regularizer", "_constraint"))}


def _tensor_refs(value) -> list:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [list(value["config"]["keras_history"])]
    if isinstance(value, (list, tuple)):
        return [ref for item in value for ref in _tensor_refs(item)]
    return []


def _refs(value) -> list:
    return [value] if value and isinstance(value[0], str) else list(value)


def keras3_config_to_tf_keras(config: dict) -> dict:
    """Translate a Keras 3 functional config (the ``config`` of config.json) to the tf_keras form:
    dtype policies become names, ``batch_shape`` becomes ``batch_input_shape``, keyword
    arguments Keras 2 does not know are dropped, and inbound nodes become [[layer, node, tensor,
    kwargs]] lists."""
    layers = []
    for layer in config["layers"]:
        nodes = []
        for node in layer.get("inbound_nodes", []):
            kwargs = {k: v for k, v in node.get("kwargs", {}).items() if not _tensor_refs(v)}
            nodes.append([[*ref, kwargs] for ref in _tensor_refs(node.get("args", []))])
        layers.append({"class_name": layer["class_name"], "name": layer["name"],
                       "config": _translate_layer_config(layer["class_name"], layer["config"]),
                       "inbound_nodes": nodes})
    return {"name": config["name"], "layers": layers,
            "input_layers": _refs(config["input_layers"]),
            "output_layers": _refs(config["output_layers"])}


def load_keras3_file(path: Path, unsafe: bool = False):
    """A .keras saved by stock Keras 3, loaded by Keras 3 (safe mode) and rebuilt as tf_keras."""
    import keras as keras3

    try:
        original = keras3.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except Exception as exc:
        raise UserError(f"{path}: Keras 3 could not load it ({str(exc).splitlines()[0]})") from None
    if type(original).__name__ == "Sequential":
        original = keras3.Model(original.inputs, original.outputs, name=original.name)
    translated = keras3_config_to_tf_keras(original.get_config())
    model = keras.Model.from_config(translated)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(original.get_layer(layer.name).get_weights())
    return model


# --- loading -----------------------------------------------------------------------------------
def load_keras_file(path, unsafe: bool = False):
    """Load a model file (tf_keras or Keras 3 .keras, .h5, SavedModel folder) as a tf_keras model,
    refusing files that would run code unless ``unsafe``."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise UserError(f"{path}: folder is neither a SavedModel nor a deploytool run")
        return _load(path, lambda: keras.models.load_model(path, compile=False))
    suffix = path.suffix.lower()
    if suffix == ".keras":
        config, metadata = _read_keras_zip(path)
        _refuse_unsafe(path, config, unsafe)
        if str(metadata.get("keras_version", "2")).startswith("3"):
            return load_keras3_file(path, unsafe)
        return _load(path, lambda: keras.models.load_model(path, compile=False, safe_mode=not unsafe))
    if suffix in (".h5", ".hdf5"):
        _refuse_unsafe(path, _read_h5_config(path), unsafe)
        return _load(path, lambda: keras.models.load_model(path, compile=False))
    raise UserError(f"{path}: not a Keras model file (.keras, .h5 or a SavedModel folder)")


def _load(path, loader):
    try:
        return loader()
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{path}: cannot load model ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0]})") from None


def _model_input_shape(model, path) -> tuple:
    shape = model.input_shape
    if isinstance(shape, list):
        raise UserError(f"{path}: models with several inputs are not supported")
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise UserError(f"{path}: expected an image model with input (batch, height, width, "
                        f"channels) of fixed size, got {shape}")
    return tuple(int(d) for d in shape[1:])


def _file_source(path: Path, unsafe: bool) -> ModelSource:
    model = load_keras_file(path, unsafe)
    kind = "savedmodel" if path.is_dir() else ("h5" if path.suffix.lower() in (".h5", ".hdf5") else "keras")
    if kind == "keras" and str(_read_keras_zip(path)[1].get("keras_version", "2")).startswith("3"):
        kind = "keras3"
    preprocessing = Preprocessing.for_input_shape(_model_input_shape(model, path))
    return ModelSource(model, kind, path.stem if not path.is_dir() else path.name,
                       {"kind": kind, "path": str(path), "sha256": sha256_file(path)},
                       preprocessing, reference_path=path if kind != "keras3" else None)


def _run_source(path: Path, unsafe: bool) -> ModelSource:
    model = load_keras_file(path / RUN_MODEL, unsafe)
    record = json.loads((path / RUN_PREPROCESSING).read_text())
    labels_file = path / RUN_LABELS
    labels = labels_file.read_text().splitlines() if labels_file.exists() else None
    return ModelSource(model, "run", path.name,
                       {"kind": "run", "path": str(path), "model": RUN_MODEL,
                        "sha256": sha256_file(path / RUN_MODEL)},
                       Preprocessing.from_dict(record), labels, dataset=record.get("dataset"),
                       reference_path=path / RUN_MODEL)


def _zoo_source(name: str, weights, input_shape, num_classes, width, seed) -> ModelSource:
    from models import create_model

    keras.utils.set_random_seed(seed)
    model = create_model(name, input_shape=input_shape, num_classes=num_classes, width=width)
    description = {"kind": "zoo", "name": name, "input_shape": list(input_shape),
                   "num_classes": num_classes, "width": width, "seed": seed, "weights": None}
    notes = []
    if weights:
        weights = Path(weights)
        if not weights.exists():
            raise UserError(f"{weights}: no such weights file")
        _load(weights, lambda: model.load_weights(weights))
        description.update(weights=str(weights), weights_sha256=sha256_file(weights))
    else:
        notes.append(f"converting an untrained {name} (random weights, seed {seed}); "
                     "pass --weights or a run folder for a trained model")
    return ModelSource(model, "zoo", name, description,
                       Preprocessing.for_input_shape(input_shape), trained=bool(weights),
                       notes=notes)


def check_finite_weights(model, origin) -> None:
    """Refuse a model with NaN or infinite weights: nothing computed from it means anything."""
    import numpy as np

    for layer in model.layers:
        for weight in layer.weights:
            if not np.all(np.isfinite(weight.numpy())):
                raise UserError(f"{origin}: layer '{layer.name}' has NaN or infinite weights "
                                f"({weight.name})")


def load_source(spec: str, *, weights=None, input_shape=(224, 224, 3), num_classes: int = 1000,
                width: float = 1.0, unsafe: bool = False, seed: int = 0) -> ModelSource:
    """Resolve ``spec`` (zoo name, run folder or model file) to a :class:`ModelSource`.
    ``weights``, ``input_shape``, ``num_classes`` and ``width`` apply to zoo names only."""
    from models import get_spec, list_models

    path = Path(spec)
    if spec in list_models():
        source = _zoo_source(spec, weights, input_shape, num_classes, width, seed)
    elif weights:
        raise UserError("--weights applies to zoo model names only")
    elif path.is_dir() and (path / RUN_MODEL).exists() and (path / RUN_PREPROCESSING).exists():
        source = _run_source(path, unsafe)
    elif path.exists():
        source = _file_source(path, unsafe)
    elif "/" not in spec and not path.suffix:
        get_spec(spec)  # raises with the closest zoo names
        raise AssertionError("unreachable")  # pragma: no cover
    else:
        raise UserError(f"{spec}: no such file or directory")
    check_finite_weights(source.model, spec)
    return source
