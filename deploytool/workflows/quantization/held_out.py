"""The held-out images an accuracy budget is judged on, the Keras reference's outputs on them, and
one candidate artifact's figures against that reference (every output; the worst head decides).

The budget search (:mod:`deploytool.workflows.quantization.budget`) and `deploytool optimize` judge their
candidates here, so an int8 attempt and an fp16 file are measured on the same images, by the
same comparator, on the runtime the user ships with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deploytool.converters.options import ConvertOptions
from deploytool.core.errors import UserError
from deploytool.core.output_parity import compare_every_output
from deploytool.runtimes.base import DEFAULT_THREADS, runner_for
from deploytool.runtimes.keras_runner import KerasRunner
from deploytool.sources.datasets import load_dataset_for, sample_split
from deploytool.sources.model_source import ModelSource
from deploytool.workflows.quantization.budget_criteria import Budget
from deploytool.workflows.conversion.convert import ConvertResult

# Up to 500 images of the test split (all 360 of digits'): one image is 0.2 top-1 points of 500,
# so a budget of a few tenths of a point is a count of images, not a rounding of one.
HELD_OUT_IMAGES = 500


def held_out(source: ModelSource, options: ConvertOptions, budget: Budget):
    """Preprocessed held-out images of the calibration data set, with labels where the budget
    needs them, and a line saying how many of how many, and how the set was split."""
    data = options.data_for(source)
    name = data.name
    if data.is_array:
        raise UserError("an accuracy budget needs held-out images: give a data set or "
                        "images:FOLDER as --calib-data, not a .npy")
    dataset = load_dataset_for(name, source.preprocessing)
    raw, labels, count = sample_split(dataset, "test", HELD_OUT_IMAGES, options.seed)
    if budget.max_drop is not None and (not dataset.labelled or labels is None):
        raise UserError(f"--max-drop needs labelled images and '{name}' has none; give a labelled "
                        "--calib-data (folder:PATH, digits) or use --min-cosine")
    split = dataset.description.get("split")
    about = (f"{count} held-out images of {name}, none of them calibrated on "
             f"({len(dataset.x_train) + len(dataset.x_test)} in all{f'; {split}' if split else ''})")
    return source.preprocessing.apply(raw), labels, about


def worst_head(verdicts) -> dict:
    """One artifact's figures for the budget: a single output's own; for several, each head's
    under ``heads`` and, at the top, the worst head's cosine, the images known to hold the
    cosine bar on every head (each head's misses counted as different images, a lower bound)
    and the worst top-1 agreement and accuracy of the heads of class scores (the budget is met
    when the worst head meets it)."""
    if len(verdicts) == 1:
        return dict(verdicts[0].figures)
    heads = {v.name: v.figures for v in verdicts}
    scores = [f for f in heads.values() if f.get("kind") == "scores"]
    samples = next(iter(heads.values()))["samples"]
    figures = {"samples": samples, "heads": heads,
               "min_cosine": min(f["min_cosine"] for f in heads.values())}
    counted = [f for f in heads.values() if "images_at_cosine_bar" in f]
    if counted:  # the images every head holds at the bar: at least all less each head's misses
        figures.update(cosine_bar=counted[0]["cosine_bar"], images_at_cosine_bar=max(
            0, samples - sum(samples - f["images_at_cosine_bar"] for f in counted)))
    if scores:
        worst = min(scores, key=lambda f: f["top1_agreement"])
        figures.update({key: worst[key] for key in ("top1_agreement", "top1_agreement_interval")})
    labelled = next((f for f in scores if "accuracy" in f), None)
    if labelled is not None:
        figures.update({key: labelled[key] for key in (
            "accuracy", "accuracy_reference", "accuracy_pairs", "accuracy_change_interval")})
    return figures


class HeldOutJudge:
    """Judges converted candidates of one source on its held-out images against ``budget``, on
    ``runtime`` (default: the artifact format's own) with ``threads``."""

    def __init__(self, source: ModelSource, options: ConvertOptions, budget: Budget,
                 runtime: str | None = None, threads: int = DEFAULT_THREADS):
        self.budget = budget
        self.runtime, self.threads = runtime, threads
        self.images, self.labels, self.about = held_out(source, options, budget)
        self._reference = None

    def figures(self, result: ConvertResult, timed: bool = True) -> tuple[dict, float | None]:
        """The candidate's figures (the worst head's, with ``top1_drop_points`` on labelled
        images) and, when ``timed``, its median in-process latency in ms for one image (a quick
        figure to rank attempts by; `deploytool bench` times in a child process), else None."""
        manifest = result.manifest
        if self._reference is None:
            from deploytool.sources.keras_files import load_keras_file

            model = load_keras_file(manifest.reference)
            self._reference = KerasRunner(model=model).infer_all(self.images)
        reference = manifest.kept_outputs(self._reference)
        runner = runner_for(result.artifact, self.runtime, self.threads).load()
        verdicts = compare_every_output(reference, runner.infer_all(self.images),
                                        manifest.output_kinds, "int8", labels=self.labels,
                                        labelled=manifest.labelled_output, step=manifest.postprocess,
                                        cosine_bar=self.budget.min_cosine)
        unmeasured = [v for v in verdicts if v.figures is None]
        if unmeasured:
            raise UserError(f"{Path(result.artifact).name}: {unmeasured[0].name}: "
                            f"{'; '.join(unmeasured[0].failures)}")
        figures = worst_head(verdicts)
        if self.labels is not None and "accuracy" in figures:
            figures["top1_drop_points"] = 100.0 * (figures["accuracy_reference"] - figures["accuracy"])
        self._check_judgeable(figures)
        if not timed:
            return figures, None
        milliseconds = 1e3 * float(np.median(runner.time_inference(self.images[:1], runs=10, warmup=2)))
        return figures, milliseconds

    def _check_judgeable(self, figures: dict) -> None:
        if self.budget.min_agreement is not None and "top1_agreement" not in figures:
            raise UserError("--min-agreement compares top-1 decisions, and no output of this "
                            "model is class scores (set one with --output-kind NAME=scores)")
        if self.budget.max_drop is not None and "accuracy" not in figures:
            raise UserError("--max-drop judges the accuracy of an output of class scores, and "
                            "this model has none with as many classes as the labels")
