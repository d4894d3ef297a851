"""Named data sets, as raw 8-bit images, with integer labels where there are any.

``digits`` (scikit-learn's bundled 8x8 handwritten digits, fixed split) works offline; ``mnist`` and
``fashion_mnist`` use the real ``keras.datasets`` loaders, which download on first use;
``folder:PATH`` reads an image folder with one sub-folder per class (the flowers layout) and splits
it into training and validation images with a seeded shuffle. Two sets carry no labels and serve
calibration and parity only: ``images:PATH``, a plain folder of images (what a user has), and
``photos``, seeded crops of the natural colour photographs scikit-image ships (offline).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError
from deploytool.sources.input_notes import ImagesSeen

OFFLINE_DATASETS = ("digits", "photos")
DOWNLOADED_DATASETS = ("mnist", "fashion_mnist")
KNOWN_DATASETS = ", ".join([*OFFLINE_DATASETS, *DOWNLOADED_DATASETS, "folder:PATH", "images:PATH"])
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot")


@dataclass
class Dataset:
    """Raw images (uint8, N x H x W x C) and labels of a named data set; an unlabelled set has
    ``y_train``/``y_test`` None and no class names."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    class_names: list[str]
    description: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for an unlabelled set)."""
        return len(self.class_names)

    @property
    def labelled(self) -> bool:
        """Whether the images carry labels."""
        return self.y_train is not None


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
    from deploytool.core.keras_env import keras

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


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
FOLDER_PREFIX = "folder:"
IMAGES_PREFIX = "images:"
# scikit-image's bundled colour photographs (no download), for calibrating colour models offline
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
PHOTO_CROPS = {"train": 480, "test": 120}


def scan_image_folder(root) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sorted sub-folder names) and (image file, class index) pairs of an image
    folder; refuses a missing folder, fewer than two classes and a class without images."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"{root}: an image folder needs at least two class sub-folders, found "
                        f"{len(classes)}")
    files = []
    for index, name in enumerate(classes):
        images = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise UserError(f"{root / name}: class folder holds no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        files += [(path, index) for path in images]
    return classes, files


def read_image(path: Path, size: tuple[int, int], channels: int, fit: str = "squash",
               seen: "ImagesSeen | None" = None) -> np.ndarray:
    """One image file as uint8 (H, W, C) at ``size`` (bilinear), grey or RGB, fitted to the
    size's aspect ratio as ``fit`` says (see :func:`~deploytool.core.preprocessing.aspect_region`);
    what the file was (size, colour, alpha) is counted in ``seen``."""
    from PIL import Image, UnidentifiedImageError

    from deploytool.core.preprocessing import aspect_region

    try:
        with Image.open(path) as image:
            if seen is not None:
                seen.count(image, size)
            image = image.convert("L" if channels == 1 else "RGB")
            top, left, height, width = aspect_region(image.height, image.width, *size, fit)
            if fit == "crop":
                image = image.crop((left, top, left + width, top + height))
            elif fit == "pad":
                canvas = Image.new(image.mode, (width, height))
                canvas.paste(image, (left, top))
                image = canvas
            image = image.resize((size[1], size[0]), Image.BILINEAR)
            array = np.asarray(image, np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UserError(f"{path}: unreadable image ({type(exc).__name__})") from None
    return array[..., None] if channels == 1 else array


# A plain folder's held-out share: a fifth, but at least 80 images where that leaves half to
# calibrate on. Held-out images are what a budget and verify judge on: a file matching float on
# every one of 20 images shows only that at least 84 % of images would (Wilson, 95 %); 73 show
# 95 %. (A class folder keeps the fifth `train` held out for validation, which it trained without.)
HELD_OUT_AT_LEAST = 80


def held_out_fraction(images: int) -> float:
    """The share of a plain folder of ``images`` held out from calibration: 0.2, raised towards
    :data:`HELD_OUT_AT_LEAST` images as far as half the folder."""
    return max(0.2, min(0.5, HELD_OUT_AT_LEAST / max(images, 1)))


def load_image_folder(root, size: tuple[int, int], channels: int = 3,
                      validation_fraction: float = 0.2, seed: int = 0,
                      fit: str = "squash") -> Dataset:
    """An image folder (one sub-folder per class) read at ``size`` and split, per class and
    seeded, into training and validation ("test") images. The split is the one `train` used, so
    that verify and a budget never judge on images the model was trained on."""
    classes, files = scan_image_folder(root)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for index in range(len(classes)):
        members = [f for f in files if f[1] == index]
        order = rng.permutation(len(members))
        held_out = max(1, int(round(len(members) * validation_fraction))) if len(members) > 1 else 0
        test += [members[i] for i in order[:held_out]]
        train += [members[i] for i in order[held_out:]]

    seen = ImagesSeen()

    def stack(items):
        images = np.stack([read_image(path, size, channels, fit, seen) for path, _ in items]) if items else \
            np.zeros((0, *size, channels), np.uint8)
        return images, np.array([label for _, label in items], np.int64)

    x_train, y_train = stack(train)
    x_test, y_test = stack(test)
    return Dataset(f"{FOLDER_PREFIX}{root}", x_train, y_train, x_test, y_test, classes,
                   {"source": str(Path(root).resolve()), "images": len(files),
                    "split": f"per class, validation fraction {validation_fraction}, seed {seed}",
                    "fit": fit, "seen": seen.as_dict()})


def _to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """An RGB uint8 image as 1 channel (BT.601 luma, PIL's rule) or 3."""
    from PIL import Image

    if channels == 3:
        return image
    return np.asarray(Image.fromarray(image).convert("L"), np.uint8)[..., None]


def random_crops(photos: list[np.ndarray], count: int, size: tuple[int, int], channels: int,
                 seed: int) -> np.ndarray:
    """``count`` seeded random crops of ``photos`` (RGB uint8): a square-ish region of 25-100 %
    of the shorter side, aspect 3:4 to 4:3, flipped half the time, resized bilinear to
    ``size``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        height, width = photo.shape[:2]
        side = min(height, width) * np.sqrt(rng.uniform(0.25, 1.0))
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        crop_h = int(min(height, round(side / np.sqrt(aspect))))
        crop_w = int(min(width, round(side * np.sqrt(aspect))))
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
        region = photo[top:top + crop_h, left:left + crop_w]
        if rng.random() < 0.5:
            region = region[:, ::-1]
        resized = Image.fromarray(np.ascontiguousarray(region)).resize((size[1], size[0]),
                                                                       Image.BILINEAR)
        crops.append(_to_channels(np.asarray(resized, np.uint8), channels))
    return np.stack(crops)


@functools.lru_cache(maxsize=4)
def _photo_crops(size: tuple[int, int], channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The photos' calibration and held-out crops at ``size``, made once per process (a budget
    search asks for them at every attempt), read-only so that no caller changes them for the
    next."""
    from skimage import data as photos_module

    photos = [getattr(photos_module, name)()[..., :3] for name in PHOTOS]
    crops = (random_crops(photos, PHOTO_CROPS["train"], size, channels, 0),
             random_crops(photos, PHOTO_CROPS["test"], size, channels, 1))
    for images in crops:
        images.setflags(write=False)
    return crops


def load_photos(size: tuple[int, int], channels: int = 3) -> Dataset:
    """Unlabelled crops of scikit-image's bundled photographs at ``size``: 480 for calibration
    ("train", seed 0) and 120 held out for parity ("test", seed 1)."""
    import importlib.util

    if importlib.util.find_spec("skimage") is None:  # pragma: no cover - a dependency
        raise UserError("the 'photos' data set needs scikit-image (pip install scikit-image)")
    train, test = _photo_crops(tuple(size), channels)
    return Dataset("photos", train, None, test, None, [],
                   {"source": f"scikit-image sample photographs ({', '.join(PHOTOS)})",
                    "crops": dict(PHOTO_CROPS), "labelled": False,
                    "split": "random crops, seed 0 (train) and seed 1 (test)"})


def load_plain_folder(root, size: tuple[int, int], channels: int = 3,
                      test_fraction: float | None = None, seed: int = 0,
                      fit: str = "squash") -> Dataset:
    """A plain folder of images (searched recursively, no class sub-folders needed), unlabelled,
    read at ``size`` and split seeded into calibration ("train") and held-out ("test") images
    (``test_fraction``, by default :func:`held_out_fraction` of them); a folder of one image
    uses it for both."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise UserError(f"{root}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if test_fraction is None:
        test_fraction = held_out_fraction(len(files))
    order = np.random.default_rng(seed).permutation(len(files))
    held_out = int(round(len(files) * test_fraction)) if len(files) > 1 else 0
    test = sorted(order[:max(held_out, 1)]) if len(files) > 1 else [0]
    train = sorted(order[held_out:]) if len(files) > 1 else [0]
    seen = ImagesSeen()
    read = lambda indices: np.stack([read_image(files[i], size, channels, fit, seen)  # noqa: E731
                                     for i in indices])
    return Dataset(f"{IMAGES_PREFIX}{root}", read(train), None, read(test), None, [],
                   {"source": str(root.resolve()), "images": len(files), "labelled": False,
                    "split": f"test fraction {test_fraction:.2g}, seed {seed}", "fit": fit,
                    "seen": seen.as_dict()})


def default_data_for(channels: int) -> str:
    """The offline data set used when none is named: the digits for a grey model, natural
    photographs for a colour one (grey digits say little about a colour model's ranges)."""
    return "digits" if channels == 1 else "photos"


@dataclass(frozen=True)
class DataChoice:
    """The images a step uses: ``name`` (a data set, images:FOLDER, folder:PATH or a .npy of
    preprocessed images), and whether it was named (by the user, or as the model's own data set)
    rather than the offline default for the model's channels."""

    name: str
    named: bool

    @property
    def is_array(self) -> bool:
        """A .npy file of preprocessed images (no raw images, no labels)."""
        return is_array_file(self.name)


def is_array_file(name: str) -> bool:
    """Whether the images named ``name`` are a .npy file of preprocessed images (no raw images,
    no labels) rather than a data set or a folder."""
    return name.endswith(".npy")


def pick_data(*named: str | None, channels: int, arrays: bool = True) -> DataChoice:
    """The one rule every step (calibration, parity, the budget's held-out images, QAT,
    verify) chooses its images by: the first of ``named`` that is given, in the caller's order
    of preference (the user's option, then the data set the model was trained or calibrated
    on), else the offline default for ``channels`` (:func:`default_data_for`). With ``arrays``
    False a .npy is passed over (a step that needs raw images)."""
    for name in named:
        if name and (arrays or not is_array_file(name)):
            return DataChoice(name, True)
    return DataChoice(default_data_for(channels), False)


BUILTIN_PREFIX = "builtin:"


def check_dataset_name(name: str) -> str:
    """The data set ``name`` stands for, checked before any work: a name :func:`load_dataset`
    would not know, a folder that does not exist, or a built-in name that is also a folder here
    (which one was meant?) is a one-line error; ``builtin:NAME`` picks the built-in set."""
    for prefix in (FOLDER_PREFIX, IMAGES_PREFIX):
        if name.startswith(prefix):
            folder = Path(name[len(prefix):])
            if not folder.is_dir():
                raise UserError(f"{name}: no such folder")
            return name
    builtin = name[len(BUILTIN_PREFIX):] if name.startswith(BUILTIN_PREFIX) else None
    if (builtin or name) not in (*OFFLINE_DATASETS, *DOWNLOADED_DATASETS):
        hint = (f"; for the folder {name}, say images:{name} (unlabelled) or folder:{name} "
                "(one sub-folder per class)" if Path(name).is_dir() else "")
        raise UserError(f"unknown data set {name!r}; known: {KNOWN_DATASETS}{hint}")
    if builtin is None and Path(name).exists():
        raise UserError(f"'{name}' is both a built-in data set and {Path(name).resolve()} here: "
                        f"say images:{name} (or folder:{name}, one sub-folder per class) for "
                        f"the folder, or {BUILTIN_PREFIX}{name} for the built-in set")
    return builtin or name


def load_dataset(name: str, image_size: tuple[int, int] | None = None, channels: int = 3,
                 fit: str = "squash") -> Dataset:
    """The data set called ``name``: digits, photos, mnist, fashion_mnist, folder:PATH (one
    sub-folder per class) or images:PATH (a plain folder, unlabelled), read at ``image_size``
    with ``channels`` where the set has no native size (default 224x224 RGB);
    ``builtin:NAME`` is the built-in set NAME."""
    name = name[len(BUILTIN_PREFIX):] if name.startswith(BUILTIN_PREFIX) else name
    if name == "digits":
        return load_digits()
    if name == "photos":
        return load_photos(image_size or (224, 224), channels)
    if name in DOWNLOADED_DATASETS:
        return load_keras_dataset(name)
    if name.startswith(FOLDER_PREFIX):
        return load_image_folder(name[len(FOLDER_PREFIX):], image_size or (224, 224), channels,
                                 fit=fit)
    if name.startswith(IMAGES_PREFIX):
        return load_plain_folder(name[len(IMAGES_PREFIX):], image_size or (224, 224), channels,
                                 fit=fit)
    raise UserError(f"unknown data set {name!r}; known: {KNOWN_DATASETS}")


def sample_split(dataset: Dataset, split: str, samples: int, seed: int):
    """``samples`` raw images and their labels drawn from the ``split`` ("train" or "test") of
    ``dataset``, seeded and without replacement, in their original order; and how many."""
    images, labels = (dataset.x_train, dataset.y_train) if split == "train" else \
        (dataset.x_test, dataset.y_test)
    count = min(samples, len(images))
    index = np.sort(np.random.default_rng(seed).choice(len(images), count, replace=False))
    return images[index], (labels[index] if labels is not None else None), count


def load_dataset_for(name: str, preprocessing) -> Dataset:
    """:func:`load_dataset` with an image folder read at the model's input size and channels."""
    return load_dataset(name, (preprocessing.height, preprocessing.width), preprocessing.channels,
                        preprocessing.fit)
