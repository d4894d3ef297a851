"""What the commands that take artifacts share: the manifest of a file of a registered format,
and the held-out images it is compared on (verify, bench, bundle, diagnose, the budget)."""

from __future__ import annotations

from pathlib import Path

from deploytool.converters.targets.registry import target_for, targets
from deploytool.core.errors import UserError
from deploytool.core.manifest import Manifest
from deploytool.sources.datasets import load_dataset_for, pick_data, sample_split
from deploytool.sources.input_notes import input_notes
from deploytool.sources.labels import label_indices


def manifest_of(artifact) -> Manifest:
    """The validated manifest of an existing artifact of a registered format
    (:meth:`Manifest.read`); another kind of file is a one-line error."""
    artifact = Path(artifact)
    if artifact.exists() and target_for(artifact) is None:
        kinds = " or ".join(t.suffix for t in targets().values())
        raise UserError(f"{artifact}: not a {kinds} artifact")
    return Manifest.read(artifact)


def reference_samples(manifest: Manifest, data: str | None, samples: int, seed: int = 0):
    """Raw held-out 8-bit images for ``manifest``'s artifact, their labels when they fit the
    model (else None), and a description; from ``data``, else the data set the model was
    trained or calibrated on, else the offline default for its channels (digits or photos).
    When the manifest names the model's classes, a labelled set's classes are matched to them by
    name (a folder's sorted sub-folders need not be in the model's order)."""
    preprocessing = manifest.preprocessing
    trained_on = manifest.dataset
    name = pick_data(data, trained_on, manifest.calibration_source,
                     channels=preprocessing.channels, arrays=False).name
    dataset = load_dataset_for(name, preprocessing)
    raw, labels, count = sample_split(dataset, "test", samples, seed)
    description = {"dataset": name, "split": "test", "samples": count, "seed": seed}
    notes = input_notes(name, dataset.description, preprocessing)
    if notes:
        description["notes"] = notes
    chosen = name in (data, trained_on)  # not a default the model never met
    if dataset.labelled and chosen and manifest.labels:  # the model names its classes: by name
        indices = label_indices(dataset.class_names, list(manifest.labels))
        if indices is None:
            description["labels_unmatched"] = (
                f"the data set's classes ({', '.join(dataset.class_names[:4])}, ...) are not all "
                f"among the model's ({', '.join(manifest.labels[:4])}, ...): judged without labels")
        labels = None if indices is None else indices[labels]
        return raw, labels, {**description, "labelled": labels is not None}
    labels_fit = dataset.labelled and chosen and manifest.classes == dataset.num_classes
    return raw, (labels if labels_fit else None), {**description, "labelled": bool(labels_fit)}


def verification_images(manifest: Manifest, data: str | None, samples: int, seed: int = 0):
    """:func:`reference_samples`, preprocessed into model input."""
    raw, labels, description = reference_samples(manifest, data, samples, seed)
    return manifest.preprocessing.apply(raw), labels, description
