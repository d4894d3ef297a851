"""The zoo as data: one row of figures per registered model, for `deploytool models`."""

from __future__ import annotations

from typing import Iterable

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
    rows = []
    for name in names:
        if on_model:
            on_model(name)
        rows.append(describe_model(name, input_shape, num_classes, width))
    return rows
