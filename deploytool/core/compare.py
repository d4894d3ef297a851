"""The one comparator: how far a runtime's outputs are from the Keras reference, and whether that
is within the tolerance of the artifact's precision."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """Pass criteria; a criterion set to None is not checked. ``reference_roundoff`` records the
    Keras reference's own float32 error when the fp32 bar was derived from it."""

    max_abs: float | None = None
    min_cosine: float | None = None
    min_top1_agreement: float | None = None
    reference_roundoff: float | None = None

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


# fp32: Polygraphy's bar (atol 1e-5) on probabilities. fp16 weights give ~1e-3 differences, int8
# ~1e-2: they are judged by direction (cosine) and decisions (top-1). A reduced-precision model
# agreeing on fewer than 9 in 10 decisions with its float source is not the same model.
TOLERANCES = {
    "fp32": Tolerance(max_abs=1e-5),
    "fp16": Tolerance(min_cosine=0.999, min_top1_agreement=0.95),
    "dynamic": Tolerance(min_cosine=0.99, min_top1_agreement=0.9),
    "int8": Tolerance(min_cosine=0.99, min_top1_agreement=0.9),
}


def tolerance_for(precision: str, trained: bool = True, roundoff: float | None = None) -> Tolerance:
    """The default tolerance of a precision. An untrained model's probabilities are nearly uniform,
    so its top-1 decisions are tie-breaks that any rounding flips: for such a model reduced
    precision is judged by cosine alone. Given the reference's measured float32 ``roundoff``,
    the fp32 bar is max(1e-5, 10 x roundoff) (see :mod:`deploytool.core.roundoff`)."""
    from deploytool.core.roundoff import fp32_max_abs

    tolerance = TOLERANCES[precision]
    if not trained and tolerance.min_top1_agreement is not None:
        tolerance = Tolerance(tolerance.max_abs, tolerance.min_cosine, None)
    if precision == "fp32" and roundoff is not None:
        tolerance = Tolerance(fp32_max_abs(roundoff), tolerance.min_cosine,
                              tolerance.min_top1_agreement, roundoff)
    return tolerance


def judge_parity(figures: dict, precision: str, trained: bool = True,
                 override: Tolerance | None = None, roundoff=lambda: None):
    """(failures, tolerance used) for one artifact's figures: ``override`` if given, else the
    precision's default; an fp32 artifact over the 1e-5 bar is judged again against the
    reference's own float32 round-off, which ``roundoff()`` measures only when needed."""
    if override is not None:
        return judge(figures, override), override
    tolerance = tolerance_for(precision, trained)
    failures = judge(figures, tolerance)
    if failures and precision == "fp32":
        measured = roundoff()
        if measured is not None:
            tolerance = tolerance_for(precision, trained, measured)
            failures = judge(figures, tolerance)
    return failures, tolerance


def _topk(values: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-values, axis=1, kind="stable")[:, :k]


def compare_outputs(reference: np.ndarray, candidate: np.ndarray, labels=None) -> dict:
    """Figures for two (N, classes) float arrays: max/mean abs error, cosine similarity (mean and
    worst sample), PSNR in dB, top-1 agreement, top-5 overlap and, given ``labels``, both
    accuracies."""
    reference = np.asarray(reference, np.float64).reshape(len(reference), -1)
    candidate = np.asarray(candidate, np.float64).reshape(len(candidate), -1)
    if reference.shape != candidate.shape:
        raise ValueError(f"output shapes differ: {reference.shape} vs {candidate.shape}")
    difference = np.abs(reference - candidate)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    cosine = np.where(norms > 0, np.sum(reference * candidate, axis=1) / np.maximum(norms, 1e-30),
                      np.where(np.allclose(reference, candidate), 1.0, 0.0))
    mse = float(np.mean(difference ** 2))
    peak = float(np.max(np.abs(reference))) or 1.0
    k = min(5, reference.shape[1])
    overlap = [len(set(a) & set(b)) / k for a, b in zip(_topk(reference, k), _topk(candidate, k))]
    figures = {
        "samples": int(len(reference)),
        "max_abs": float(difference.max()),
        "mean_abs": float(difference.mean()),
        "cosine": float(cosine.mean()),
        "min_cosine": float(cosine.min()),
        "psnr_db": float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse)),
        "top1_agreement": float(np.mean(reference.argmax(1) == candidate.argmax(1))),
        "top5_overlap": float(np.mean(overlap)),
    }
    if labels is not None:
        labels = np.asarray(labels)
        figures["accuracy_reference"] = float(np.mean(reference.argmax(1) == labels))
        figures["accuracy"] = float(np.mean(candidate.argmax(1) == labels))
    return figures


def judge(figures: dict, tolerance: Tolerance) -> list[str]:
    """The criteria ``figures`` fail, each as a short phrase; an empty list means a pass."""
    failures = []
    if tolerance.max_abs is not None and not figures["max_abs"] <= tolerance.max_abs:
        failures.append(f"max abs {figures['max_abs']:.2e} > {tolerance.max_abs:.0e}")
    if tolerance.min_cosine is not None and not figures["min_cosine"] >= tolerance.min_cosine:
        failures.append(f"cosine {figures['min_cosine']:.4f} < {tolerance.min_cosine}")
    if tolerance.min_top1_agreement is not None and \
            not figures["top1_agreement"] >= tolerance.min_top1_agreement:
        failures.append(f"top-1 agreement {figures['top1_agreement']:.3f} < {tolerance.min_top1_agreement}")
    return failures
