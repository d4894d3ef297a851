"""An accuracy budget for int8: `deploytool convert --int8 --max-drop POINTS | --min-cosine C`.

Plain int8 is tried first. When it misses the budget on held-out images (never the calibration
ones), what costs nothing comes next: the other calibration methods the format offers (ONNX
Runtime's percentile and entropy calibrators), then four times the calibration images. Then the
layers `deploytool diagnose` finds costliest are kept in float, fewest first (1, 2, 3, 5, 8, ...
of them), until the budget holds: a mixed int8/float model (TFLite: denylisted nodes; ONNX: nodes
excluded from quantization). The chosen artifact is written as usual, and its manifest's
``budget`` record lists every attempt, the layers left in float and what they cost in size and
latency against plain int8.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import target
from deploytool.core.errors import UserError
from deploytool.core.manifest import Manifest
from deploytool.core.output_parity import compare_every_output
from deploytool.runtimes.base import runner_for
from deploytool.runtimes.keras_runner import KerasRunner
from deploytool.sources.datasets import default_data_for, load_dataset_for, sample_split
from deploytool.sources.model_source import ModelSource
from deploytool.workflows.convert import ConvertResult, convert

# Up to 500 images of the test split (all 360 of digits'): one image is 0.2 top-1 points of 500,
# so a budget of a few tenths of a point is a count of images, not a rounding of one.
HELD_OUT_IMAGES = 500
FLOAT_LAYER_STEPS = (1, 2, 3, 5, 8, 13, 21, 34)


@dataclass(frozen=True)
class Budget:
    """The accuracy an int8 artifact must keep on held-out images: at most ``max_drop`` top-1
    points below float (labelled images) or at least ``min_cosine`` worst-sample cosine; and/or
    the same top-1 decision as float on at least ``min_agreement`` of the images (accuracy alone
    can hide an int8 model that is right on other images than float; on unlabelled images the
    agreement alone is a budget)."""

    max_drop: float | None = None
    min_cosine: float | None = None
    min_agreement: float | None = None

    def check(self) -> None:
        """At most one of the accuracy and cosine criteria, at least one criterion in all, each
        in range."""
        if self.max_drop is not None and self.min_cosine is not None or \
                (self.max_drop, self.min_cosine, self.min_agreement) == (None, None, None):
            raise UserError("give one accuracy budget: --max-drop POINTS or --min-cosine C, with "
                            "or without --min-agreement F (or --min-agreement F alone)")
        if self.max_drop is not None and not 0 <= self.max_drop <= 100:
            raise UserError(f"--max-drop is in top-1 points (0..100), got {self.max_drop}")
        if self.min_cosine is not None and not -1 <= self.min_cosine <= 1:
            raise UserError(f"--min-cosine must lie in [-1, 1], got {self.min_cosine}")
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise UserError(f"--min-agreement is a fraction of the images (0..1), got {self.min_agreement}")

    def met(self, figures: dict) -> bool:
        """Whether held-out figures keep the budget."""
        if self.min_agreement is not None and figures["top1_agreement"] < self.min_agreement:
            return False
        if self.max_drop is not None:
            return figures["top1_drop_points"] <= self.max_drop + 1e-9
        if self.min_cosine is not None:
            return figures["min_cosine"] >= self.min_cosine
        return True

    @property
    def judged_figure(self) -> str:
        """The figure attempts are ranked by: the accuracy drop, else the cosine, else the
        agreement."""
        if self.max_drop is not None:
            return "top1_drop_points"
        return "min_cosine" if self.min_cosine is not None else "top1_agreement"

    def describe(self) -> str:
        """The budget in words."""
        words = []
        if self.max_drop is not None:
            words.append(f"top-1 drop <= {self.max_drop:g} points")
        if self.min_cosine is not None:
            words.append(f"worst cosine >= {self.min_cosine:g}")
        if self.min_agreement is not None:
            words.append(f"top-1 agreement >= {self.min_agreement:g}")
        return ", ".join(words)


@dataclass
class Attempt:
    """One conversion tried, and how it did on the held-out images."""

    label: str
    options: ConvertOptions
    figures: dict
    met: bool
    size_bytes: int
    milliseconds: float
    keep_float: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"label": self.label, "calibration_method": self.options.calibration_method,
                "calib_samples": self.options.calib_samples, "keep_float": self.keep_float,
                "figures": self.figures, "met": self.met, "size_bytes": self.size_bytes,
                "latency_ms": round(self.milliseconds, 3)}


def held_out(source: ModelSource, options: ConvertOptions, budget: Budget):
    """Preprocessed held-out images of the calibration data set, with labels where the budget
    needs them."""
    name = options.calib_data or source.dataset or default_data_for(source.preprocessing.channels)
    if name.endswith(".npy"):
        raise UserError("an accuracy budget needs held-out images: give a data set or "
                        "images:FOLDER as --calib-data, not a .npy")
    dataset = load_dataset_for(name, source.preprocessing)
    raw, labels, _ = sample_split(dataset, "test", HELD_OUT_IMAGES, options.seed)
    if budget.max_drop is not None and (not dataset.labelled or labels is None):
        raise UserError(f"--max-drop needs labelled images and '{name}' has none; give a labelled "
                        "--calib-data (folder:PATH, digits) or use --min-cosine")
    return source.preprocessing.apply(raw), labels


def worst_head(verdicts) -> dict:
    """One artifact's figures for the budget: a single output's own; for several, each head's
    under ``heads`` and, at the top, the worst head's cosine and the worst top-1 agreement and
    accuracy of the heads of class scores (the budget is met when the worst head meets it)."""
    if len(verdicts) == 1:
        return dict(verdicts[0].figures)
    heads = {v.name: v.figures for v in verdicts}
    scores = [f for f in heads.values() if f.get("kind") == "scores"]
    figures = {"samples": next(iter(heads.values()))["samples"], "heads": heads,
               "min_cosine": min(f["min_cosine"] for f in heads.values())}
    if scores:
        figures["top1_agreement"] = min(f["top1_agreement"] for f in scores)
    labelled = next((f for f in scores if "accuracy" in f), None)
    if labelled is not None:
        figures["accuracy"], figures["accuracy_reference"] = labelled["accuracy"], labelled["accuracy_reference"]
    return figures


def _evaluate(artifact: Path, images, labels, reference: dict,
              manifest: Manifest) -> tuple[dict, float]:
    runner = runner_for(artifact).load()
    verdicts = compare_every_output(reference, runner.infer_all(images), manifest.output_kinds,
                                    "int8", labels=labels, labelled=manifest.labelled_output,
                                    step=manifest.postprocess)
    unmeasured = [v for v in verdicts if v.figures is None]
    if unmeasured:
        raise UserError(f"{artifact.name}: {unmeasured[0].name}: {'; '.join(unmeasured[0].failures)}")
    figures = worst_head(verdicts)
    if labels is not None and "accuracy" in figures:
        figures["top1_drop_points"] = 100.0 * (figures["accuracy_reference"] - figures["accuracy"])
    milliseconds = 1e3 * float(np.median(runner.time_inference(images[:1], runs=10, warmup=2)))
    return figures, milliseconds


def budgeted_convert(source: ModelSource, options: ConvertOptions, budget: Budget,
                     log=lambda message: None) -> ConvertResult:
    """Convert ``source`` to int8 within ``budget``: the cheapest attempt that meets it (see the
    module's docstring), written to ``options.out_dir`` with a ``budget`` record; if none does,
    the best attempt, and the record says the budget was not met."""
    from deploytool.workflows.diagnose import diagnose

    budget.check()
    if options.precision != "int8":
        raise UserError("an accuracy budget applies to int8: add --int8")
    if options.qat:
        raise UserError("an accuracy budget searches post-training quantization; drop --qat")
    images, labels = held_out(source, options, budget)
    chosen_target = target(options.to)
    attempts: list[Attempt] = []
    with tempfile.TemporaryDirectory(prefix=".deploytool-budget-", dir=_parent(options.out_dir)) as tmp:
        reference = None

        def attempt(label: str, variant: ConvertOptions) -> tuple[Attempt, ConvertResult]:
            nonlocal reference
            log(f"budget: trying {label}")
            result = convert(source, replace(variant, out_dir=Path(tmp) / str(len(attempts))),
                             remember=False)
            manifest = Manifest.from_record(result.artifact, result.manifest)
            if reference is None:
                reference = manifest.kept_outputs(
                    KerasRunner(model=_reference_model(result)).infer_all(images))
            figures, milliseconds = _evaluate(result.artifact, images, labels, reference, manifest)
            if budget.min_agreement is not None and "top1_agreement" not in figures:
                raise UserError("--min-agreement compares top-1 decisions, and no output of this "
                                "model is class scores (set one with --output-kind NAME=scores)")
            if budget.max_drop is not None and "accuracy" not in figures:
                raise UserError("--max-drop judges the accuracy of an output of class scores, and "
                                "this model has none with as many classes as the labels")
            done = Attempt(label, variant, figures, budget.met(figures),
                           result.manifest["artifact"]["size_bytes"], milliseconds,
                           list(variant.keep_float))
            attempts.append(done)
            log(f"budget: {label}: {_figures_text(figures, labels)} - "
                f"{'meets' if done.met else 'misses'} {budget.describe()}")
            return done, result

        plain, plain_result = attempt("plain int8", options)
        best = plain
        if not plain.met:
            cheap = [(f"{method} calibration", replace(options, calibration_method=method))
                     for method in chosen_target.calibration_methods if method != options.calibration_method]
            cheap.append(("4x the calibration images",
                          replace(options, calib_samples=options.calib_samples * 4)))
            for label, variant in cheap:
                done, _ = attempt(label, variant)
                best = _better(best, done, budget)
                if done.met:
                    break
        if not best.met:
            ranking = [row.name for row in sorted(
                diagnose(plain_result.artifact, options.calib_data, 32).rows,
                key=lambda row: row.own_snr_db) if row.scale]
            base = best.options
            artifact_bytes = Path(plain_result.artifact).read_bytes()
            for count in FLOAT_LAYER_STEPS:
                if count > len(ranking):
                    break
                keep = chosen_target.keep_float_closure(artifact_bytes, ranking[:count])
                done, _ = attempt(f"{count} costliest layer{'s' if count > 1 else ''} in float",
                                  replace(base, keep_float=keep))
                done.keep_float = ranking[:count]
                best = _better(best, done, budget)
                if done.met:
                    break
    record = {"budget": budget.describe(), "met": best.met, "chosen": best.label,
              "layers_in_float": best.keep_float,
              "size_cost": round(best.size_bytes / plain.size_bytes - 1, 4),
              "latency_cost": round(best.milliseconds / plain.milliseconds - 1, 4)
              if plain.milliseconds else None,
              "held_out_images": int(len(images)), "attempts": [a.as_dict() for a in attempts]}
    log(budget_line(record, best, labels))
    return convert(source, best.options, log, extra={"budget": record})


def budget_line(record: dict, best: Attempt, labels) -> str:
    """The console's one line about the budget."""
    figures = _figures_text(best.figures, labels)
    if not record["met"]:
        return (f"budget not met ({record['budget']}): the best attempt, {best.label}, reaches "
                f"{figures}; see `deploytool diagnose` on the artifact")
    floats = record["layers_in_float"]
    kept = (f"kept {len(floats)} layer{'s' if len(floats) > 1 else ''} in float "
            f"({', '.join(name.split(';')[0] for name in floats[:3])}{', ...' if len(floats) > 3 else ''}), "
            f"size {record['size_cost']:+.0%}, latency {record['latency_cost']:+.0%} against plain int8"
            if floats else best.label)
    return f"budget met ({record['budget']}): {kept}; {figures}"


def _figures_text(figures: dict, labels) -> str:
    """The figures the budget judges, in a line (the worst head's, for several outputs)."""
    agreement = f", agreement {figures['top1_agreement']:.3f}" if "top1_agreement" in figures else ""
    heads = f"worst of {len(figures['heads'])} outputs: " if "heads" in figures else ""
    if labels is not None and "accuracy" in figures:
        return (f"{heads}top-1 {figures['accuracy']:.4f} against float "
                f"{figures['accuracy_reference']:.4f} (drop {figures['top1_drop_points']:.2f} "
                f"points){agreement}")
    return f"{heads}worst cosine {figures['min_cosine']:.4f}{agreement}"


def _better(one: Attempt, other: Attempt, budget: Budget) -> Attempt:
    if one.met != other.met:
        return one if one.met else other
    key = budget.judged_figure
    sign = -1 if key == "top1_drop_points" else 1
    score = lambda attempt: (sign * attempt.figures[key], attempt.figures.get("top1_agreement", 0))  # noqa: E731
    return one if score(one) >= score(other) else other


def _reference_model(result: ConvertResult):
    from deploytool.sources.keras_files import load_keras_file

    return load_keras_file(result.manifest["source"]["reference"])


def _parent(out_dir) -> Path:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
