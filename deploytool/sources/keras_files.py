"""Keras model files (tf_keras or Keras 3 .keras, .h5, SavedModel folders), screened before
they are loaded: a Lambda layer or a custom (non-Keras) layer would run code from the file, so such
files are refused unless the caller passes ``unsafe=True``. Classes Keras ships and registers
itself (keras.applications' LayerScale, Keras 3 operations) are safe."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from deploytool.core.errors import UserError
from deploytool.core.keras_env import keras
from deploytool.core.untrusted import check_archive
from deploytool.sources.keras3 import keras3_unsafe_layers, load_keras3_model
from deploytool.sources.signatures import is_signature_folder, load_signature_model

# Layers whose config names TensorFlow ops rather than holding Python code.
SAFE_OP_LAYERS = {"TFOpLambda", "SlicingOpLambda"}
CONTAINERS = {"Functional", "Sequential", "Model"}


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


def _refuse_unsafe(path: Path, config: dict, unsafe: bool, keras3_file: bool = False) -> None:
    risky = keras3_unsafe_layers(config) if keras3_file else _unsafe_layers(config)
    if risky and not unsafe:
        more = f" and {len(risky) - 1} more" if len(risky) > 1 else ""
        raise UserError(f"{path}: {risky[0]}{more} would run code from the file when loaded; "
                        "pass --unsafe only if you trust it")


def read_keras_zip(path: Path) -> tuple[dict, dict]:
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


def is_keras3_metadata(metadata: dict) -> bool:
    return str(metadata.get("keras_version", "2")).startswith("3")


def load_keras_file(path, unsafe: bool = False, custom_objects: dict | None = None):
    """Load a model file (tf_keras or Keras 3 .keras, .h5, SavedModel folder) with the Keras that
    saved it: a tf_keras model, or a Keras 3 model for a .keras saved by Keras 3 and for a
    SavedModel that holds only a serving signature (read through it). Files that would run code
    are refused unless ``unsafe``; ``custom_objects`` are the user's own classes by name."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise UserError(f"{path}: folder is neither a SavedModel nor a deploytool run")
        if is_signature_folder(path):
            return load_signature_model(path)
        return guarded_load(path, lambda: keras.models.load_model(
            path, compile=False, custom_objects=custom_objects))
    suffix = path.suffix.lower()
    if suffix == ".keras":
        config, metadata = read_keras_zip(path)
        _refuse_unsafe(path, config, unsafe, keras3_file=is_keras3_metadata(metadata))
        if is_keras3_metadata(metadata):
            return load_keras3_model(path, unsafe, custom_objects)
        return guarded_load(path, lambda: keras.models.load_model(
            path, compile=False, safe_mode=not unsafe, custom_objects=custom_objects))
    if suffix in (".h5", ".hdf5"):
        _refuse_unsafe(path, _read_h5_config(path), unsafe)
        return guarded_load(path, lambda: keras.models.load_model(
            path, compile=False, custom_objects=custom_objects))
    raise UserError(f"{path}: not a Keras model file (.keras, .h5 or a SavedModel folder)")


def guarded_load(path, loader):
    """``loader()``, any failure of it a one-line error naming ``path``."""
    try:
        return loader()
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{path}: cannot load model ({type(exc).__name__}: "
                        f"{(str(exc).strip().splitlines() or [''])[0]})") from None
