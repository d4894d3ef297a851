"""A model's class names: a labels file (one name per line, UTF-8) checked against the model's
class-score output, so that the manifest, verify, bundle and the app name the classes the model
was trained on."""

from __future__ import annotations

from pathlib import Path

from deploytool.core.errors import UserError


def read_labels(path) -> list[str]:
    """One label per line (UTF-8), trailing blank lines dropped; an unreadable or empty file is
    a one-line error."""
    try:
        labels = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read labels ({exc})") from None
    while labels and not labels[-1]:
        labels.pop()
    if not labels:
        raise UserError(f"{path}: no labels (one class name per line)")
    return labels


def output_widths(model) -> list[int]:
    """The last dimension of each of ``model``'s outputs (the class count of a classifier's)."""
    outputs = model.outputs if isinstance(model.outputs, (list, tuple)) else [model.outputs]
    return [int(output.shape[-1]) for output in outputs if output.shape[-1] is not None]


def labels_for_model(path, model) -> list[str]:
    """The labels in ``path``, refused in one line unless the model has an output with as many
    classes, or two labels for an output of one value per image (a yes/no decision)."""
    labels = read_labels(path)
    widths = output_widths(model)
    if len(labels) not in widths and not (len(labels) == 2 and 1 in widths):
        raise UserError(f"{path}: {len(labels)} labels, and the model's outputs have "
                        f"{' and '.join(map(str, widths))} values")
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise UserError(f"{path}: label {duplicated[0]!r} appears more than once")
    return labels


def label_indices(class_names: list[str], labels: list[str]):
    """For each class of a labelled data set, the index of the model's label of that name (so a
    folder's sorted sub-folders judge the model's own class order); None unless every class is
    one of the model's labels."""
    import numpy as np

    position = {label: index for index, label in enumerate(labels)}
    if not class_names or any(name not in position for name in class_names):
        return None
    return np.array([position[name] for name in class_names], np.int64)
