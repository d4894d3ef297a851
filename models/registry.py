"""The zoo's registry: every architecture is a builder registered under a name."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

from deploytool.core.errors import UserError


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one architecture.

    ``reference_params`` is the published parameter count at 224x224x3 with 1000 classes (Keras
    ``count_params()``, BN statistics included), ``reference_tolerance`` the relative deviation the
    zoo's tests accept, and ``reference_source`` where the figure comes from. ``learning_rate`` is
    the Adam learning rate the architecture trains with from scratch (`deploytool train`'s default).
    """

    name: str
    family: str
    builder: Callable
    description: str
    reference_params: int | None = None
    reference_tolerance: float = 0.005
    reference_source: str = ""
    learning_rate: float = 1e-3


class UnknownModelError(UserError):
    """A model name that is not in the zoo."""


_REGISTRY: dict[str, ModelSpec] = {}


def register(name, family, description, reference_params=None, reference_tolerance=0.005,
             reference_source="", learning_rate=1e-3):
    """Decorator that registers ``builder(input_shape, num_classes, **options)`` under ``name``."""

    def decorate(builder):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, family, builder, description, reference_params,
                                    reference_tolerance, reference_source, learning_rate)
        return builder

    return decorate


def list_models(family: str | None = None) -> list[str]:
    """Names of every registered model (optionally of one family), sorted."""
    return sorted(n for n, s in _REGISTRY.items() if family is None or s.family == family)


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; an unknown name raises :class:`UnknownModelError`
    whose message lists the closest matches."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}{hint} (`deploytool models` lists all {len(_REGISTRY)})"
        ) from None


def create_model(name: str, input_shape=(224, 224, 3), num_classes: int = 1000, **options):
    """Build the zoo model ``name`` as a ``tf_keras`` functional model (random weights).

    ``input_shape`` is (height, width, channels); ``num_classes`` the classifier width. Options
    every builder takes: ``width`` (channel multiplier, default 1.0) and ``classifier_activation``
    ("softmax" by default, None for logits); some builders take more (see their docstrings).
    """
    spec = get_spec(name)
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise UserError(f"input shape must be height,width,channels with positive sizes, got {input_shape}")
    if int(num_classes) < 1:
        raise UserError(f"num_classes must be at least 1, got {num_classes}")
    width = options.get("width", 1.0)
    if not width > 0:
        raise UserError(f"width must be positive, got {width}")
    try:
        return spec.builder(input_shape, int(num_classes), **options)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise UserError(f"{name}: {exc}") from None
        raise
