"""The zoo as data: one row of figures per registered model, for `deploytool models`.

Building all nineteen models to count their parameters and MACs takes about 40 s on 2 cores, so
the figures at the zoo's default settings (224x224x3, 1000 classes, width 1) are kept in
``models/zoo_figures.json`` with a fingerprint of the zoo's source: while the source is unchanged
the table is read from it; any other settings, or a changed zoo, build the models.
``benchmarks/zoo_figures.py`` writes the file again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from deploytool.core.fileio import write_json
from deploytool.core.keras_env import keras
from deploytool.models import create_model, get_spec, list_models
from deploytool.models.profile import profile_model


def describe_model(name: str, input_shape=(224, 224, 3), num_classes: int = 1000,
                   width: float = 1.0) -> dict:
    """Build ``name`` once and return its row: family, description, parameters and the published
    reference (only meaningful at 224x224x3, 1000 classes, width 1), MACs, BN layers, training-only
    outputs and dropout layers."""
    spec = get_spec(name)
    model = create_model(name, input_shape=input_shape, num_classes=num_classes, width=width)
    try:
        profile = profile_model(model)
    finally:
        del model
        keras.backend.clear_session()
    reference_applies = tuple(input_shape) == (224, 224, 3) and num_classes == 1000 and width == 1.0
    return {
        "name": name,
        "family": spec.family,
        "description": spec.description,
        "input_shape": list(input_shape),
        "num_classes": num_classes,
        "width": width,
        **profile.as_dict(),
        "reference_params": spec.reference_params if reference_applies else None,
        "reference_source": (spec.reference_source or None) if reference_applies else None,
    }


def describe_zoo(names: Iterable[str] | None = None, input_shape=(224, 224, 3),
                 num_classes: int = 1000, width: float = 1.0, on_model=None) -> list[dict]:
    """Rows of :func:`describe_model` for ``names`` (default: the whole zoo); unknown names fail
    before anything is built. ``on_model(name)`` is called before each model is built."""
    names = list(names) if names else list_models()
    for name in names:
        get_spec(name)
    cached = cached_rows((list(input_shape), num_classes, float(width)))
    if cached is not None and all(name in cached for name in names):
        return [cached[name] for name in names]
    rows = []
    for name in names:
        if on_model:
            on_model(name)
        rows.append(describe_model(name, input_shape, num_classes, width))
    return rows


DEFAULT_SETTINGS = ([224, 224, 3], 1000, 1.0)


def _figures_file() -> Path:
    """The cached figures beside the installed zoo (``deploytool/models/zoo_figures.json``)."""
    import deploytool.models

    return Path(deploytool.models.__file__).resolve().parent / "zoo_figures.json"


def zoo_fingerprint() -> str:
    """sha256 of the zoo's source files (names and contents): the cached figures hold while it
    is unchanged."""
    digest = hashlib.sha256()
    for path in sorted(_figures_file().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cached_rows(settings) -> dict | None:
    """The cached rows by model name, for ``settings`` (input shape, classes, width) when they
    are the zoo's defaults and the source is the one the figures were computed from; else None."""
    path = _figures_file()
    if tuple(settings) != DEFAULT_SETTINGS or not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("fingerprint") != zoo_fingerprint():
        return None
    return {row["name"]: row for row in record["rows"]}


def write_figures_cache() -> Path:
    """Build every zoo model at the default settings and write their rows and the source's
    fingerprint to the cache file."""
    shape, classes, width = DEFAULT_SETTINGS
    rows = [describe_model(name, tuple(shape), classes, width) for name in list_models()]
    path = _figures_file()
    write_json(path, {"fingerprint": zoo_fingerprint(), "settings": {
        "input_shape": shape, "num_classes": classes, "width": width}, "rows": rows})
    return path
