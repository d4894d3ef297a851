"""Named data sets, as raw 8-bit images with integer labels.

``digits`` (scikit-learn's bundled 8x8 handwritten digits, fixed split) works offline; ``mnist`` and
``fashion_mnist`` use the real ``keras.datasets`` loaders, which download on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError

OFFLINE_DATASETS = ("digits",)
DOWNLOADED_DATASETS = ("mnist", "fashion_mnist")
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot")


@dataclass
class Dataset:
    """Raw images (uint8, N x H x W x C) and labels of a named data set."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    description: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (values 0..16 scaled to 0..255), split stratified and fixed."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, bunch.target.astype(np.int64), test_size=test_fraction, random_state=seed,
        stratify=bunch.target)
    return Dataset("digits", x_train, y_train, x_test, y_test, [str(d) for d in range(10)],
                   {"source": "sklearn.datasets.load_digits", "native_size": [8, 8],
                    "split": f"stratified, test fraction {test_fraction}, seed {seed}"})


def load_keras_dataset(name: str) -> Dataset:
    """MNIST or Fashion-MNIST through ``keras.datasets`` (downloads on first use)."""
    from .keras_env import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # no network: URLError, socket errors, HTTP errors...
        raise UserError(
            f"data set '{name}' needs a download through keras.datasets, which failed "
            f"({type(exc).__name__}); offline alternatives: {', '.join(OFFLINE_DATASETS)}, folder:PATH"
        ) from None
    classes = [str(d) for d in range(10)] if name == "mnist" else list(FASHION_CLASSES)
    return Dataset(name, x_train[..., None], y_train.astype(np.int64), x_test[..., None],
                   y_test.astype(np.int64), classes, {"source": f"keras.datasets.{name}"})


def load_dataset(name: str) -> Dataset:
    """The data set called ``name``: digits, mnist or fashion_mnist."""
    if name == "digits":
        return load_digits()
    if name in DOWNLOADED_DATASETS:
        return load_keras_dataset(name)
    known = ", ".join([*OFFLINE_DATASETS, *DOWNLOADED_DATASETS])
    raise UserError(f"unknown data set {name!r}; known: {known}")
