"""The one comparator: how far a runtime's outputs are from the Keras reference, and whether that
is within the tolerance of the artifact's precision, output by output, each with the measure that
fits its kind (:data:`OUTPUT_KINDS`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from deploytool.core.statistics import paired_change_interval_of, paired_counts, wilson_interval


@dataclass(frozen=True)
class Tolerance:
    """Pass criteria; a criterion set to None is not checked. ``reference_roundoff`` records the
    Keras reference's own float32 error when the fp32 bar was derived from it."""

    max_abs: float | None = None
    min_cosine: float | None = None
    min_top1_agreement: float | None = None
    reference_roundoff: float | None = None
    max_relative_error: float | None = None  # regression: max abs / the reference's range
    min_neighbour_agreement: float | None = None  # embedding: same nearest neighbour
    min_pixel_agreement: float | None = None  # dense: same per-pixel argmax

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


# fp32: Polygraphy's bar (atol 1e-5) on probabilities. fp16 weights give ~1e-3 differences, int8
# ~1e-2: they are judged by direction (cosine) and decisions (top-1). A reduced-precision model
# agreeing on fewer than 9 in 10 decisions with its float source is not the same model.
# A regression head is judged by its worst error against the range its values span (1/256 of the
# range is one int8 step; 5 % is about a dozen steps), an embedding by the neighbours it finds, a
# per-pixel map by the class of each pixel.
TOLERANCES = {
    "fp32": Tolerance(max_abs=1e-5),
    "fp16": Tolerance(min_cosine=0.999, min_top1_agreement=0.98, max_relative_error=0.01,
                      min_neighbour_agreement=0.95, min_pixel_agreement=0.99),
    "dynamic": Tolerance(min_cosine=0.99, min_top1_agreement=0.9, max_relative_error=0.05,
                         min_neighbour_agreement=0.9, min_pixel_agreement=0.95),
    "int8": Tolerance(min_cosine=0.99, min_top1_agreement=0.9, max_relative_error=0.05,
                      min_neighbour_agreement=0.9, min_pixel_agreement=0.95),
}
# How each kind of output is judged: the criteria that apply to it (the others are reported only).
OUTPUT_KINDS = ("scores", "regression", "embedding", "dense")
KIND_CRITERIA = {
    "scores": ("max_abs", "min_cosine", "min_top1_agreement", "max_relative_error"),
    "regression": ("max_abs", "max_relative_error"),
    "embedding": ("max_abs", "min_cosine", "min_neighbour_agreement"),
    "dense": ("max_abs", "min_cosine", "min_pixel_agreement"),
}


# Reduced precisions whose artifacts, on a trained model, are judged by what they decide (top-1,
# nearest neighbours, pixels; a regression by its error against its range), not by the worst
# sample's cosine: on 38 trained int8 artifacts of the zoo (docs/compatibility.json, 360 digits
# each) the worst cosine was below 0.99 on 32 while all 38 kept top-1 within 1 point of float;
# one image near a decision boundary sets it. fp16 the same at its own scale: on the trained
# zoo's fp16 .tflite files (2026-12-02) four of 16 had a worst cosine of 0.9980-0.9989, each set
# by 1-3 of the 360 images, every one of them an uncertain one (top probability 0.33-0.70), while
# the median image's largest probability moved by 1e-5 to 3e-4 and at most one decision in 360
# flipped. The cosine is still reported; fp16's decision bar (0.98) is stricter than int8's (0.9).
DECISION_JUDGED = ("fp16", "int8", "dynamic")


def tolerance_for(precision: str, trained: bool = True, roundoff: float | None = None) -> Tolerance:
    """The default tolerance of a precision. An untrained model's probabilities are nearly uniform,
    so its top-1 decisions are tie-breaks that any rounding flips: for such a model reduced
    precision is judged by cosine alone. A trained model's fp16, int8 and dynamic-range artifacts
    are judged by their decisions (:data:`DECISION_JUDGED`), their cosine reported only. Given the
    reference's measured float32 ``roundoff``, the fp32 bar is max(1e-5, 10 x roundoff) (see
    :mod:`deploytool.core.roundoff`)."""
    from deploytool.core.roundoff import fp32_max_abs

    tolerance = TOLERANCES[precision]
    if trained and precision in DECISION_JUDGED:
        tolerance = replace(tolerance, min_cosine=None)
    if not trained:  # decisions of an untrained model are tie-breaks
        tolerance = replace(tolerance, min_top1_agreement=None, min_neighbour_agreement=None,
                            min_pixel_agreement=None)
    if precision == "fp32" and roundoff is not None:
        tolerance = replace(tolerance, max_abs=fp32_max_abs(roundoff), reference_roundoff=roundoff)
    return tolerance


def client_tolerance(precision: str, trained: bool = True) -> Tolerance:
    """The bar for a client library that preprocesses by itself (MediaPipe Tasks: its own resize
    and the normalization its metadata gives): no max-abs bar, since its resampler and its order
    of float operations are its own. An fp32 file is judged by cosine (at least 0.999) and, for
    a trained model, by its decisions (top-1 agreement at least 0.95, the neighbours and pixels
    of fp16's bar); a reduced-precision file by its precision's own criteria."""
    if precision != "fp32":
        return replace(tolerance_for(precision, trained), max_abs=None)
    decisions = dict(min_top1_agreement=0.95, min_neighbour_agreement=0.95,
                     min_pixel_agreement=0.99) if trained else {}
    return Tolerance(min_cosine=0.999, max_relative_error=0.01, **decisions)


def judge_parity(figures: dict, precision: str, trained: bool = True,
                 override: Tolerance | None = None, roundoff=lambda: None):
    """(failed, tolerance used) for one artifact's figures, ``failed`` the (criterion, phrase)
    pairs of :func:`judge_criteria`: by ``override`` if given, else the precision's default; an
    fp32 artifact over the 1e-5 bar is judged again against the reference's own float32
    round-off, which ``roundoff()`` measures only when needed."""
    if override is not None:
        return judge_criteria(figures, override), override
    tolerance = tolerance_for(precision, trained)
    failed = judge_criteria(figures, tolerance)
    if failed and precision == "fp32":
        measured = roundoff()
        if measured is not None:
            tolerance = tolerance_for(precision, trained, measured)
            failed = judge_criteria(figures, tolerance)
    return failed, tolerance


def _topk(values: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-values, axis=1, kind="stable")[:, :k]


def _cosines(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per-row cosine similarity; two all-zero rows agree (1), one all-zero row does not (0)."""
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    same = np.all(np.isclose(reference, candidate), axis=1)
    return np.where(norms > 0, np.sum(reference * candidate, axis=1) / np.maximum(norms, 1e-30),
                    np.where(same, 1.0, 0.0))


def decision_threshold(values: np.ndarray) -> float:
    """Where a one-value score decides: 0.5 for values a sigmoid gives (all within [0, 1]), else 0
    (a logit)."""
    return 0.5 if values.min() >= 0 and values.max() <= 1 else 0.0


def decisions(flat: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Each image's decision: the top class, or, given the ``threshold`` of a head of one score
    per image (a binary head, see :func:`decision_threshold`), whether its score is over it."""
    return flat.argmax(1) if threshold is None else (flat[:, 0] > threshold).astype(int)


def _nearest_neighbours(rows: np.ndarray) -> np.ndarray:
    """For each row, the index of the most cosine-similar other row."""
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-30)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.argmax(1)


def _kind_figures(kind: str, reference: np.ndarray, candidate: np.ndarray, flat_reference,
                  flat_candidate, labels) -> dict:
    """The figures only ``kind`` has (reference and candidate as produced, (N, ...))."""
    if kind == "scores":
        k = min(5, flat_reference.shape[1])
        threshold = decision_threshold(flat_reference) if k == 1 else None
        decided_reference = decisions(flat_reference, threshold)
        decided = decisions(flat_candidate, threshold)
        same = decided_reference == decided
        figures = {"top1_agreement": float(np.mean(same)),
                   "top1_agreement_interval": list(wilson_interval(int(same.sum()), len(same)))}
        if k > 1:
            overlap = [len(set(a) & set(b)) / k
                       for a, b in zip(_topk(flat_reference, k), _topk(flat_candidate, k))]
            figures["top5_overlap"] = float(np.mean(overlap))
        else:  # one score per image: its decision is a threshold, and its error counts as a value's
            # against its range, a probability's being all of 0-1 (an untrained sigmoid spans a
            # few hundredths: one int8 step of its output would be a tenth of that)
            figures.update(_regression_figures(flat_reference, flat_candidate,
                                               1.0 if threshold == 0.5 else None))
            figures["decision_threshold"] = threshold  # what code reads (bundle, the app)
            figures["decision"] = f"over {threshold:g}"  # the same in words
        if labels is not None:
            labels = np.asarray(labels)
            right_reference = decided_reference == labels
            right = decided == labels
            figures["accuracy_reference"] = float(np.mean(right_reference))
            figures["accuracy"] = float(np.mean(right))
            figures["accuracy_interval"] = list(wilson_interval(int(right.sum()), len(right)))
            figures["accuracy_pairs"] = paired_counts(right_reference, right)
            figures["accuracy_change_interval"] = list(paired_change_interval_of(figures["accuracy_pairs"]))
        return figures
    if kind == "regression":
        return _regression_figures(flat_reference, flat_candidate)
    if kind == "embedding":
        if len(flat_reference) < 3:  # a nearest neighbour needs two others to choose from
            return {}
        same = _nearest_neighbours(flat_reference) == _nearest_neighbours(flat_candidate)
        return {"neighbour_agreement": float(np.mean(same)),
                "neighbour_agreement_interval": list(wilson_interval(int(same.sum()), len(same)))}
    if kind == "dense":
        if reference.shape[-1] > 1:
            same = reference.argmax(-1) == candidate.argmax(-1)
        else:  # one channel: a mask, thresholded where a sigmoid puts its middle
            same = (reference > 0.5) == (candidate > 0.5)
        return {"pixel_agreement": float(np.mean(same))}
    raise ValueError(f"unknown output kind {kind!r}")


def _regression_figures(flat_reference: np.ndarray, flat_candidate: np.ndarray,
                        spread: float | None = None) -> dict:
    """The worst error against ``spread``, by default the range the reference's values span."""
    spread = float(flat_reference.max() - flat_reference.min()) if spread is None else spread
    worst = float(np.abs(flat_reference - flat_candidate).max())
    return {"reference_range": spread,
            "relative_error": worst / spread if spread > 0 else (0.0 if worst == 0 else float("inf"))}


def reference_spread(flat_reference: np.ndarray) -> float:
    """How much the reference's output changes from image to image: the largest spread (max - min
    over the images) of any of its values, as a fraction of its largest magnitude (0 for an output
    that is the same on every image, or zero everywhere)."""
    peak = float(np.max(np.abs(flat_reference)))
    spread = float(np.max(flat_reference.max(0) - flat_reference.min(0)))
    return spread / peak if peak > 0 else 0.0


# Below this spread (relative to the output's magnitude; float32 resolves about 1e-7) the reference
# gives one answer whatever the image: a keras.applications MobileNetV2 saved without weights
# answers exactly 0.1 for every class of every image. Any artifact that returns that constant
# "agrees" with it, so such a comparison cannot be a pass.
MIN_REFERENCE_SPREAD = 1e-6


def compare_outputs(reference: np.ndarray, candidate: np.ndarray, labels=None,
                    kind: str = "scores", cosine_bar: float | None = None) -> dict:
    """Figures for two (N, ...) float arrays of one output: max/mean abs error, cosine similarity
    (mean and worst sample), PSNR in dB, how much the reference changes across the images
    (:func:`reference_spread`), and the figures of ``kind``: top-1 agreement, top-5
    overlap and, given ``labels``, both accuracies for ``scores`` (one score per image: its
    decision over a threshold, its error against its range, its cosine over the images); the error relative to the
    reference's range for ``regression``; nearest-neighbour agreement for ``embedding``;
    per-pixel argmax agreement for ``dense``. Every agreement and accuracy over images comes with
    its 95 % interval (``*_interval``: Wilson; the accuracy change candidate minus reference:
    paired), so a figure says how sure it is; the pixels of a map are not independent, so its
    agreement has none. Given ``cosine_bar``, ``images_at_cosine_bar`` counts the images whose
    cosine reaches it (one value per image: its cosine is over the images, so all or none)."""
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if reference.size != candidate.size or len(reference) != len(candidate):
        raise ValueError(f"output shapes differ: {reference.shape} vs {candidate.shape}")
    candidate = candidate.reshape(reference.shape)
    flat_reference = reference.reshape(len(reference), -1)
    flat_candidate = candidate.reshape(len(candidate), -1)
    difference = np.abs(flat_reference - flat_candidate)
    # one value per image: a row's cosine is only its sign, so the images' values form the vector
    cosine = (_cosines(flat_reference.T, flat_candidate.T) if flat_reference.shape[1] == 1
              else _cosines(flat_reference, flat_candidate))
    mse = float(np.mean(difference ** 2))
    peak = float(np.max(np.abs(flat_reference))) or 1.0
    figures = {
        "kind": kind,
        "samples": int(len(flat_reference)),
        "reference_spread": reference_spread(flat_reference),
        "max_abs": float(difference.max()),
        "mean_abs": float(difference.mean()),
        "cosine": float(cosine.mean()),
        "min_cosine": float(cosine.min()),
        "psnr_db": float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse)),
    }
    figures.update(_kind_figures(kind, reference, candidate, flat_reference, flat_candidate, labels))
    if cosine_bar is not None:
        reached = (cosine >= cosine_bar).all() * len(flat_reference) \
            if flat_reference.shape[1] == 1 else np.count_nonzero(cosine >= cosine_bar)
        figures.update(cosine_bar=float(cosine_bar), images_at_cosine_bar=int(reached))
    return figures


# criterion -> (figure, at least or at most, how a failure reads)
_CRITERIA = {
    "max_abs": ("max_abs", "max", "max abs {value:.2e} > {bar:.0e}"),
    "min_cosine": ("min_cosine", "min", "cosine {value:.4f} < {bar}"),
    "min_top1_agreement": ("top1_agreement", "min", "top-1 agreement {value} < {bar}"),
    "max_relative_error": ("relative_error", "max", "error {value:.2%} of the output's range > {bar:.0%}"),
    "min_neighbour_agreement": ("neighbour_agreement", "min", "nearest-neighbour agreement {value} < {bar}"),
    "min_pixel_agreement": ("pixel_agreement", "min", "per-pixel agreement {value} < {bar}"),
}

CONSTANT_REFERENCE = "the reference gives the same output for all "

# how each failure judge() gives begins: only to read cells cached by earlier runs, whose
# failures were recorded as words alone (docs/compatibility.json); new records carry the failed
# criteria themselves (``failed``)
CRITERION_PREFIXES = (CONSTANT_REFERENCE,
                      *(phrase.split("{")[0] for _, _, phrase in _CRITERIA.values()))

# What a check can find wrong, as records carry it (a verdict's and a verify row's ``failed``):
# the criteria of :data:`_CRITERIA`, a reference that never changes (constant_reference), and
# what is wrong before any figure: an output missing (missing_output), of another shape or size
# (shape, size), not finite (nonfinite), an output the reference has not (extra_outputs), a file
# that changed since conversion (integrity), a runtime that did not or cannot run the file
# (not_run, unsupported).
# the criteria a reduced-precision artifact misses by being that far from float (not errors);
# max abs is the fp32 bar
FIGURE_CRITERIA = ("min_cosine", "min_top1_agreement", "max_relative_error",
                   "min_neighbour_agreement", "min_pixel_agreement")


def judge_criteria(figures: dict, tolerance: Tolerance) -> list[tuple[str, str]]:
    """The criteria ``figures`` fail, each as (criterion, short phrase); an empty list means a
    pass. Only the criteria of the figures' kind apply (``scores`` for figures that name none),
    and a figure the comparison could not compute (an embedding's neighbours on two images) is
    not judged. Whatever the tolerance, a reference that gives the same output on every image
    (:data:`MIN_REFERENCE_SPREAD`) fails (``constant_reference``): nothing was shown by agreeing
    with it."""
    failed = []
    spread = figures.get("reference_spread")
    if spread is not None and figures.get("samples", 0) > 1 and spread < MIN_REFERENCE_SPREAD:
        failed.append(("constant_reference",
                       f"{CONSTANT_REFERENCE}{figures['samples']} images (no value varies by "
                       f"more than {spread:.1e} of the largest): a wrong artifact would agree "
                       "with it too (an untrained model, or images all alike?)"))
    for criterion in KIND_CRITERIA[figures.get("kind", "scores")]:
        bar = getattr(tolerance, criterion)
        name, direction, phrase = _CRITERIA[criterion]
        value = figures.get(name)
        if bar is None or value is None:
            continue
        if not (value <= bar if direction == "max" else value >= bar):
            shown = proportion_text(figures, name) if "agreement" in name else value
            failed.append((criterion, phrase.format(value=shown, bar=bar)))
    return failed


def judge(figures: dict, tolerance: Tolerance) -> list[str]:
    """The phrases of :func:`judge_criteria`."""
    return [phrase for _, phrase in judge_criteria(figures, tolerance)]


def proportion_text(figures: dict, key: str) -> str:
    """A proportion with its count and 95 % interval: "1.000 (16/16; 95 %: 0.806-1.000)"."""
    value, interval = figures[key], figures.get(f"{key}_interval")
    if not interval:
        return f"{value:.3f}"
    count = figures["samples"]
    return (f"{value:.3f} ({round(value * count)}/{count}; 95 %: {interval[0]:.3f}-"
            f"{interval[1]:.3f})")


def figures_only(failed: list[str]) -> bool:
    """Whether every failed criterion (a record's ``failed``) is a figure below its bar
    (cosine, agreements, a regression's error: :data:`FIGURE_CRITERIA`) rather than an error."""
    return bool(failed) and all(criterion in FIGURE_CRITERIA for criterion in failed)
