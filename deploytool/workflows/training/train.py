"""Training of zoo models on a named data set.

tf.data input (prefetching; random resized crop and flip for image folders), the tf.distribute
strategy that fits the machine (MultiWorkerMirroredStrategy when TF_CONFIG is set, MirroredStrategy
across several GPUs, else the default device, a GPU when there is one), optional mixed precision,
best-checkpoint saving, early stopping, resuming, and a run folder that convert/verify accept:
model.keras, labels.txt, preprocessing.json, metrics.json, training_curves.png.

The run is staged in a hidden ``.<name>.partial`` folder beside ``--out`` and renamed into place
when it completes; an interrupted run leaves only that staging folder, which ``--resume`` continues.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from deploytool.core.errors import UserError
from deploytool.core.fileio import write_json
from deploytool.core.keras_env import keras, tf
from deploytool.core.manifest import tool_versions
from deploytool.core.preprocessing import Preprocessing, preprocessing_from_options
from deploytool.sources.datasets import Dataset, FOLDER_PREFIX, load_dataset
from deploytool.sources.model_source import RUN_LABELS, RUN_MODEL, RUN_PREPROCESSING
from deploytool.workflows.training.train_options import TrainOptions

AUX_LOSS_WEIGHT = 0.3  # the auxiliary classifiers' weight in GoogLeNet's recipe


def default_input_shape(data: str) -> tuple[int, int, int]:
    """28x28x1 for the digit sets (MNIST's size), 224x224x3 for image folders."""
    return (224, 224, 3) if data.startswith(FOLDER_PREFIX) else (28, 28, 1)


def choose_strategy():
    """The tf.distribute strategy for this process, and a line describing it. Call it before any
    other TensorFlow work: collective ops must be configured at program start-up."""
    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
        return strategy, (f"MultiWorkerMirroredStrategy ({strategy.num_replicas_in_sync} replicas, "
                          f"this is {task.get('type', 'worker')} {task.get('index', 0)})")
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        return strategy, f"MirroredStrategy across {len(gpus)} GPUs"
    strategy = tf.distribute.get_strategy()
    return strategy, f"default strategy on {'GPU' if gpus else 'CPU'}"


def split_validation(dataset: Dataset, fraction: float, seed: int):
    """(train, validation) arrays: an image folder's own held-out split, else a seeded
    stratified share of the training split."""
    if dataset.name.startswith(FOLDER_PREFIX):
        return (dataset.x_train, dataset.y_train), (dataset.x_test, dataset.y_test)
    from sklearn.model_selection import train_test_split

    x_train, x_val, y_train, y_val = train_test_split(
        dataset.x_train, dataset.y_train, test_size=fraction, random_state=seed,
        stratify=dataset.y_train)
    return (x_train, y_train), (x_val, y_val)


def random_resized_crop(image, seed):
    """Crop 25-100 % of the area at aspect 3/4-4/3, resize back, flip left-right at random."""
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([1, 0, 4]), seed=seed,
        area_range=(0.25, 1.0), aspect_ratio_range=(3 / 4, 4 / 3),
        use_image_if_no_bounding_boxes=True)
    size = tf.shape(image)[:2]
    image = tf.image.resize(tf.slice(image, begin, crop_size), size)
    return tf.image.stateless_random_flip_left_right(image, seed + 1)


def make_pipeline(images, labels, preprocessing: Preprocessing, output_names, batch_size: int,
                  shuffle: bool, augment: bool, seed: int):
    """tf.data: shuffle, augment (image folders), preprocess exactly as every later stage does,
    batch, prefetch; labels repeated for every output (auxiliary heads)."""
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)

    def prepare(image, label, index):
        image = tf.cast(image, tf.float32)
        if augment:
            image = random_resized_crop(image, tf.stack([tf.cast(index, tf.int32), seed]))
        image = preprocessing.transform(image[None])[0]
        targets = {name: label for name in output_names} if len(output_names) > 1 else label
        return image, targets

    data = data.enumerate().map(lambda i, xy: prepare(xy[0], xy[1], i),
                                num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)


def compile_model(model, learning_rate: float):
    """Adam and sparse cross-entropy; auxiliary heads weighted 0.3, accuracy on the main output."""
    names = model.output_names
    loss = keras.losses.SparseCategoricalCrossentropy()
    if len(names) == 1:
        model.compile(keras.optimizers.Adam(learning_rate), loss, metrics=["accuracy"])
    else:
        model.compile(keras.optimizers.Adam(learning_rate), {n: loss for n in names},
                      loss_weights={n: 1.0 if n == names[0] else AUX_LOSS_WEIGHT for n in names},
                      metrics={names[0]: ["accuracy"]})
    return "val_accuracy" if len(names) == 1 else f"val_{names[0]}_accuracy"


class ProgressCallback(keras.callbacks.Callback):
    """One rich progress bar per epoch and a summary line after it."""

    def __init__(self, console, epochs: int, accuracy_key: str):
        super().__init__()
        self.console, self.epochs, self.accuracy_key = console, epochs, accuracy_key
        self.progress = None
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.started = time.perf_counter()
        if not self.console.is_terminal:  # logs and CI get the summary lines only
            return
        self.progress = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                                 transient=True)
        self.progress.start()
        self.task = self.progress.add_task(f"epoch {epoch + 1}/{self.epochs}",
                                           total=self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        if self.progress:
            self.progress.advance(self.task)

    def on_epoch_end(self, epoch, logs=None):
        if self.progress:
            self.progress.stop()
            self.progress = None
        logs = logs or {}
        train_key = self.accuracy_key.replace("val_", "", 1)
        self.console.print(
            f"epoch {epoch + 1}/{self.epochs}: loss {logs.get('loss', float('nan')):.4f}, "
            f"accuracy {logs.get(train_key, float('nan')):.4f}, val_loss "
            f"{logs.get('val_loss', float('nan')):.4f}, val_accuracy "
            f"{logs.get(self.accuracy_key, float('nan')):.4f} "
            f"({time.perf_counter() - self.started:.1f} s)")


class BestWeights(keras.callbacks.Callback):
    """Best-checkpoint saving: keeps the weights of the best epoch (by ``monitor``, higher is
    better) in memory and on disk. Restoring goes through ``set_weights`` because tf_keras'
    ``load_weights`` of an h5 file breaks under MultiWorkerMirroredStrategy."""

    def __init__(self, monitor: str, path: Path):
        super().__init__()
        self.monitor, self.path = monitor, path
        self.best_score, self.best_weights, self.best_epoch = -np.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        score = (logs or {}).get(self.monitor)
        if score is not None and score > self.best_score:
            self.best_score, self.best_epoch = score, epoch + 1
            self.best_weights = self.model.get_weights()
            self.model.save_weights(self.path)

    def restore(self) -> None:
        """Put the best epoch's weights back into the model."""
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, for metrics.json."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def plot_curves(history: dict, accuracy_key: str, path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    train_key = accuracy_key.replace("val_", "", 1)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, history["loss"], "o-", label="training")
    loss_axis.plot(epochs, history["val_loss"], "o-", label="validation")
    loss_axis.set(title="loss", xlabel="epoch")
    accuracy_axis.plot(epochs, history[train_key], "o-", label="training")
    accuracy_axis.plot(epochs, history[accuracy_key], "o-", label="validation")
    accuracy_axis.set(title="accuracy", xlabel="epoch", ylim=(0, 1.01))
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def staging_folder(out: Path) -> Path:
    """Where an unfinished run lives: ``.<name>.partial`` beside ``out``."""
    return out.parent / f".{out.name}.partial"


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its CPU kernels through oneDNN (the default on
    x86 Linux unless TF_ENABLE_ONEDNN_OPTS=0 was set before TensorFlow was imported)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"


def has_grouped_convolutions(model) -> bool:
    """Whether ``model`` holds a Conv2D with groups > 1 (RegNetX, ResNeXt)."""
    return any(getattr(layer, "groups", 1) > 1 for layer in model.submodules
               if hasattr(layer, "groups"))


def train_without_onednn(model_name: str, data: str, out, options: TrainOptions, console=None) -> dict:
    """:func:`train` in a child process with oneDNN off. Training a model with grouped
    convolutions through TensorFlow 2.21's oneDNN CPU kernels corrupts the heap (regnetx_32 on
    digits, 5 epochs: glibc aborts with "malloc assertion failure" or "corrupted double-linked
    list"; the same run with TF_ENABLE_ONEDNN_OPTS=0 trains to 0.875). The flag is read when
    TensorFlow is imported, hence the child; its progress lines come through as they are."""
    from deploytool.core.child import call_in_child

    answer = call_in_child(f"{__name__}:train_in_child", model_name, data, str(out), asdict(options),
                           console is not None, env={"TF_ENABLE_ONEDNN_OPTS": "0"}, echo=True)
    if not answer.ok:
        raise UserError(f"training {model_name} (without oneDNN, in a child process) failed: "
                        f"{answer.error}")
    return answer.value


def train_in_child(model_name: str, data: str, out: str, fields: dict, progress: bool) -> dict:
    """:func:`train_without_onednn`'s child: :func:`train` with the options as JSON gave them,
    its progress printed on this process's standard output when asked."""
    from rich.console import Console

    fields["input_shape"] = tuple(fields["input_shape"]) if fields.get("input_shape") else None
    return train(model_name, data, out, TrainOptions(**fields), Console() if progress else None)


def build_model(model_name: str, input_shape, num_classes: int, options: TrainOptions,
                strategy):
    """The zoo model compiled for training in ``strategy``'s scope (in mixed precision when
    asked, the global policy restored after), and the metric its best epoch is chosen by."""
    from deploytool.models import create_model, get_spec

    learning_rate = options.learning_rate or get_spec(model_name).learning_rate
    previous_policy = keras.mixed_precision.global_policy()
    if options.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy.scope():
            model = create_model(model_name, input_shape=input_shape, num_classes=num_classes,
                                 width=options.width)
            monitor = compile_model(model, learning_rate)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return model, monitor, learning_rate


def fit_callbacks(staging: Path, monitor: str, options: TrainOptions, console=None):
    """The callbacks of a training run: backup and restore (resumable), epoch timing, the best
    epoch's weights, early stopping when asked and progress on ``console``; with the timer and
    the best-weights keeper."""
    best = staging / "checkpoints" / "best.weights.h5"
    best.parent.mkdir(exist_ok=True)
    timer, best_weights = EpochTimer(), BestWeights(monitor, best)
    callbacks = [keras.callbacks.BackupAndRestore(str(staging / "backup")), timer, best_weights]
    if options.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode="max",
                                                       patience=options.early_stopping))
    if console:
        callbacks.append(ProgressCallback(console, options.epochs, monitor))
    return callbacks, timer, best_weights


def train(model_name: str, data: str, out, options: TrainOptions, console=None) -> dict:
    """Train zoo model ``model_name`` on data set ``data`` and write the run folder ``out``;
    returns the metrics written to metrics.json."""
    from deploytool.models import get_spec

    options.check()
    get_spec(model_name)
    out = Path(out)
    staging = staging_folder(out)
    if out.exists():
        raise UserError(f"{out} already holds a finished run; choose another --out")
    if options.resume and not staging.exists():
        raise UserError(f"nothing to resume: no unfinished run at {staging}")
    strategy, strategy_line = choose_strategy()  # before any other TensorFlow work
    input_shape = tuple(options.input_shape or default_input_shape(data))
    preprocessing = preprocessing_from_options(input_shape, **(options.preprocess or {})) or \
        Preprocessing.for_input_shape(input_shape)
    dataset = load_dataset(data, input_shape[:2], input_shape[2], preprocessing.fit)
    if not dataset.labelled:
        raise UserError(f"data set {data} has no labels to train on; use folder:PATH (one "
                        "sub-folder per class), digits, mnist or fashion_mnist")
    (x_train, y_train), (x_val, y_val) = split_validation(dataset, options.validation_fraction,
                                                           options.seed)
    if len(x_val) == 0 or len(x_train) == 0:
        raise UserError(f"data set {data} is too small to split into training and validation")
    keras.utils.set_random_seed(options.seed)
    model, monitor, learning_rate = build_model(model_name, input_shape, dataset.num_classes,
                                                options, strategy)
    if onednn_enabled() and has_grouped_convolutions(model):
        return train_without_onednn(model_name, data, out, options, console)
    if not options.resume and staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    if console:
        console.print(f"training {model_name} on {data} ({len(x_train)} training, {len(x_val)} "
                      f"validation images) at {'x'.join(map(str, input_shape))}, {strategy_line}")
    augment = data.startswith(FOLDER_PREFIX)
    train_data = make_pipeline(x_train, y_train, preprocessing, model.output_names,
                               options.batch_size, True, augment, options.seed)
    val_data = make_pipeline(x_val, y_val, preprocessing, model.output_names, options.batch_size,
                             False, False, options.seed)
    callbacks, timer, best_weights = fit_callbacks(staging, monitor, options, console)
    started = time.perf_counter()
    fitted = model.fit(train_data, validation_data=val_data, epochs=options.epochs, verbose=0,
                       callbacks=callbacks)
    history, epoch_numbers = fitted.history, [e + 1 for e in fitted.epoch]  # resumed runs skip some
    wall = time.perf_counter() - started
    best_weights.restore()

    accuracy_key = monitor.replace("val_", "", 1)
    test_data = make_pipeline(dataset.x_test, dataset.y_test, preprocessing, model.output_names,
                              options.batch_size, False, False, options.seed)
    test_accuracy = float(model.evaluate(test_data, verbose=0, return_dict=True)[accuracy_key])
    metrics = {
        "model": model_name, "data": data, "input_shape": list(input_shape),
        "num_classes": dataset.num_classes, "strategy": strategy_line,
        "epochs": [{"epoch": epoch_numbers[i], "loss": history["loss"][i], "accuracy": history[accuracy_key][i],
                    "val_loss": history["val_loss"][i], "val_accuracy": history[monitor][i],
                    "seconds": timer.seconds[i] if i < len(timer.seconds) else None}
                   for i in range(len(history["loss"]))],
        "best_val_accuracy": float(max(history[monitor])), "best_epoch": best_weights.best_epoch,
        "test_accuracy": test_accuracy, "test_images": int(len(dataset.x_test)),
        "wall_seconds": wall,
        "images_per_second": len(x_train) * len(history["loss"]) / wall if wall else None,
        "options": {**asdict(options), "input_shape": list(input_shape), "learning_rate": learning_rate},
        "dataset": dataset.description, "tool_versions": tool_versions(),
    }
    model.save(staging / RUN_MODEL)
    (staging / RUN_LABELS).write_text("\n".join(dataset.class_names) + "\n")
    write_json(staging / RUN_PREPROCESSING, {**preprocessing.as_dict(), "dataset": data})
    write_json(staging / "metrics.json", metrics)
    plot_curves(history, monitor, staging / "training_curves.png")
    shutil.rmtree(staging / "backup", ignore_errors=True)
    shutil.rmtree(staging / "checkpoints", ignore_errors=True)
    os.replace(staging, out)
    return metrics
