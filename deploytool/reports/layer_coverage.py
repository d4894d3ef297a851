"""One tiny model per built-in layer that CNN classifiers use, built the way users build theirs.

Each case is written once against the Keras API that stock Keras 3 and tf_keras share, and
:func:`build_case_file` builds it with either Keras, as a Sequential or a functional model, gives
it random weights (BatchNorm statistics included) and saves it as a user would (``.keras``; tf_keras
also ``.h5``). The files then go through ``deploytool convert`` and ``verify`` like any other model
(:func:`deploytool.reports.own_models.coverage_cells`), so the page and the tests exercise the same
path a user's file takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_SHAPE = (8, 8, 3)
CLASSES = 5
SAVERS = ("keras3", "tf_keras")
FORMS = ("sequential", "functional")


@dataclass(frozen=True)
class LayerCase:
    """A layer under test. ``body(L)`` returns the layers between the input and the classifier
    (a chain: both forms); ``graph(L, x)`` wires a functional-only body (merges); ``needs``
    names a Keras 3-only feature (the tf_keras cells say so instead of failing)."""

    name: str
    body: object = None
    graph: object = None
    needs_keras3: str | None = None

    @property
    def forms(self) -> tuple[str, ...]:
        """The model forms this case can be written in."""
        return FORMS if self.body is not None else ("functional",)


def _conv(L, **kwargs):
    return L.Conv2D(6, 3, padding="same", **kwargs)


def _branches(L, x):
    return _conv(L)(x), _conv(L)(x)


def _activation_cases() -> list[LayerCase]:
    keras3_only = {"relu6", "leaky_relu", "silu", "hard_silu", "hard_sigmoid"}
    names = ["relu", "relu6", "leaky_relu", "elu", "selu", "silu", "swish", "gelu", "hard_sigmoid",
             "hard_silu", "sigmoid", "tanh", "softmax"]
    cases = []
    for name in names:
        why = f"tf_keras has no '{name}' activation with Keras 3's meaning" \
            if name in keras3_only else None
        cases.append(LayerCase(f"Activation('{name}')",
                               lambda L, n=name: [_conv(L), L.Activation(n)], needs_keras3=why))
        cases.append(LayerCase(f"Conv2D(activation='{name}')",
                               lambda L, n=name: [_conv(L, activation=n)], needs_keras3=why))
    return cases


CASES: list[LayerCase] = [
    LayerCase("Conv2D", lambda L: [_conv(L)]),
    LayerCase("Conv2D(groups=3)", lambda L: [L.Conv2D(6, 3, padding="same", groups=3)]),
    LayerCase("Conv2D(strides=2, valid)", lambda L: [L.Conv2D(6, 3, strides=2)]),
    LayerCase("SeparableConv2D", lambda L: [L.SeparableConv2D(6, 3, padding="same")]),
    LayerCase("DepthwiseConv2D", lambda L: [L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)]),
    LayerCase("Conv2DTranspose", lambda L: [L.Conv2DTranspose(4, 3, strides=2, padding="same")]),
    LayerCase("Dense", lambda L: [L.Flatten(), L.Dense(12)]),
    LayerCase("Conv2D+BatchNormalization", lambda L: [_conv(L, use_bias=False), L.BatchNormalization()]),
    LayerCase("SeparableConv2D+BatchNormalization",
              lambda L: [L.SeparableConv2D(6, 3, padding="same"), L.BatchNormalization()]),
    LayerCase("DepthwiseConv2D+BatchNormalization",
              lambda L: [L.DepthwiseConv2D(3, padding="same"), L.BatchNormalization()]),
    LayerCase("Conv2DTranspose+BatchNormalization",
              lambda L: [L.Conv2DTranspose(4, 3, strides=2, padding="same"), L.BatchNormalization()]),
    LayerCase("Dense+BatchNormalization", lambda L: [L.Flatten(), L.Dense(12), L.BatchNormalization()]),
    LayerCase("BatchNormalization after Add",
              graph=lambda L, x: L.BatchNormalization()(L.Add()(list(_branches(L, x))))),
    LayerCase("BatchNormalization after Concatenate",
              graph=lambda L, x: L.BatchNormalization()(L.Concatenate()(list(_branches(L, x))))),
    LayerCase("BatchNormalization after MaxPooling2D",
              lambda L: [_conv(L), L.MaxPooling2D(2), L.BatchNormalization()]),
    LayerCase("BatchNormalization first (pre-activation)",
              lambda L: [L.BatchNormalization(), L.ReLU(), _conv(L)]),
    LayerCase("LayerNormalization", lambda L: [_conv(L), L.LayerNormalization()]),
    LayerCase("ReLU", lambda L: [_conv(L), L.ReLU()]),
    LayerCase("ReLU(max_value=6)", lambda L: [_conv(L), L.ReLU(max_value=6.0)]),
    LayerCase("LeakyReLU", lambda L: [_conv(L), L.LeakyReLU()]),
    LayerCase("PReLU", lambda L: [_conv(L), L.PReLU(shared_axes=[1, 2])]),
    LayerCase("ELU", lambda L: [_conv(L), L.ELU()]),
    LayerCase("Softmax", lambda L: [_conv(L), L.Softmax()]),
    *_activation_cases(),
    LayerCase("MaxPooling2D", lambda L: [_conv(L), L.MaxPooling2D(2)]),
    LayerCase("AveragePooling2D", lambda L: [_conv(L), L.AveragePooling2D(2)]),
    LayerCase("AveragePooling2D(3, 1, same)",
              lambda L: [_conv(L), L.AveragePooling2D(3, strides=1, padding="same")]),
    LayerCase("GlobalAveragePooling2D", lambda L: [_conv(L), L.GlobalAveragePooling2D()]),
    LayerCase("GlobalMaxPooling2D", lambda L: [_conv(L), L.GlobalMaxPooling2D()]),
    LayerCase("ZeroPadding2D", lambda L: [L.ZeroPadding2D(((1, 2), (2, 1))), _conv(L)]),
    LayerCase("Cropping2D", lambda L: [_conv(L), L.Cropping2D(((1, 2), (2, 1)))]),
    LayerCase("UpSampling2D", lambda L: [_conv(L), L.UpSampling2D()]),
    LayerCase("UpSampling2D(bilinear)", lambda L: [_conv(L), L.UpSampling2D(interpolation="bilinear")]),
    LayerCase("Reshape", lambda L: [_conv(L), L.Reshape((16, 4, 6))]),
    LayerCase("Flatten", lambda L: [_conv(L), L.Flatten()]),
    LayerCase("Permute", lambda L: [_conv(L), L.Permute((2, 1, 3))]),
    LayerCase("Add", graph=lambda L, x: L.Add()(list(_branches(L, x)))),
    LayerCase("Subtract", graph=lambda L, x: L.Subtract()(list(_branches(L, x)))),
    LayerCase("Multiply", graph=lambda L, x: L.Multiply()(list(_branches(L, x)))),
    LayerCase("Concatenate", graph=lambda L, x: L.Concatenate()(list(_branches(L, x)))),
    LayerCase("Rescaling", lambda L: [L.Rescaling(1 / 127.5, offset=-1.0), _conv(L)]),
    LayerCase("Normalization",
              lambda L: [L.Normalization(mean=[0.4, 0.5, 0.6], variance=[0.05, 0.06, 0.07]), _conv(L)]),
    LayerCase("Dropout", lambda L: [_conv(L), L.Dropout(0.3)]),
    LayerCase("SpatialDropout2D", lambda L: [_conv(L), L.SpatialDropout2D(0.3)]),
    LayerCase("GaussianNoise", lambda L: [L.GaussianNoise(0.1), _conv(L)]),
]


def case_by_name(name: str) -> LayerCase:
    """The case called ``name``."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def _keras(saver: str):
    if saver == "keras3":
        from deploytool.core.keras_env import keras3

        return keras3()
    from deploytool.core.keras_env import keras

    return keras


def build_case(case: LayerCase, saver: str, form: str, seed: int = 0):
    """The model of ``case`` built with ``saver``'s Keras in ``form``, with random weights and
    random BatchNorm statistics: input 8x8x3, the case's layers, a softmax classifier."""
    keras = _keras(saver)
    L = keras.layers
    keras.utils.set_random_seed(seed)
    head = [L.Flatten(), L.Dense(CLASSES, activation="softmax")]
    if form == "sequential":
        model = keras.Sequential([keras.Input(INPUT_SHAPE), *case.body(L), *head],
                                 name="coverage")
    else:
        inputs = keras.Input(INPUT_SHAPE)
        x = inputs
        if case.body is not None:
            for layer in case.body(L):
                x = layer(x)
        else:
            x = case.graph(L, x)
        for layer in head:
            x = layer(x)
        model = keras.Model(inputs, x, name="coverage")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if "variance" in v.name
                               or "gamma" in v.name else rng.normal(0, 0.3, w.shape).astype(np.float32)
                               for v, w in zip(layer.weights, layer.get_weights())])
    return model


def case_file_name(case: LayerCase, saver: str, form: str, suffix: str = ".keras") -> str:
    """A file name for a case built by ``saver`` in ``form``."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in case.name).strip("_").lower()
    while "__" in slug:
        slug = slug.replace("__", "_")
    return f"{slug}-{saver}-{form}{suffix}"


def build_case_file(case: LayerCase, saver: str, form: str, folder, suffix: str = ".keras") -> Path:
    """Build the case and save it into ``folder`` as a user would (``model.save``); reuses a
    file already there."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case_file_name(case, saver, form, suffix)
    if not path.exists():
        model = build_case(case, saver, form)
        staging = path.with_name(f".{path.stem}.partial{path.suffix}")
        model.save(staging)
        staging.replace(path)
    return path
