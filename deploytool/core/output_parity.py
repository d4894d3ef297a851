"""Every output of an artifact against the Keras reference's: paired by name (never by
position), each compared with the measure of its kind and judged by the precision's bar. One
verdict per output; an artifact passes when every output does. Convert's parity check, verify
and the budget share it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deploytool.core.compare import Tolerance, compare_outputs, judge_parity, proportion_text
from deploytool.core.errors import ArtifactMismatch
from deploytool.core.postprocess import postprocess


@dataclass
class OutputVerdict:
    """One output's figures (None when it could not be compared), what failed (``failed``: the
    criteria and structure failures of :mod:`deploytool.core.compare`, which code decides on;
    ``failures``: the same in words, for people) and the bar used."""

    name: str
    kind: str
    figures: dict | None = None
    failures: list[str] = field(default_factory=list)
    tolerance: Tolerance | None = None
    failed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Compared, and within the bar."""
        return self.figures is not None and not self.failures

    def fail(self, what: str, words: str) -> None:
        """Record a failure: ``what`` failed (a criterion or structure failure), in ``words``."""
        self.failed.append(what)
        self.failures.append(words)

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"name": self.name, "kind": self.kind, "figures": self.figures,
                "failures": list(self.failures), "failed": list(self.failed),
                "passed": self.passed,
                "tolerance": self.tolerance.as_dict() if self.tolerance else None}


def pair_outputs(reference: dict, produced: dict) -> dict[str, np.ndarray | None]:
    """The produced output for each reference output name (None where the artifact has none of
    that name). One output on each side pairs whatever the names (a file written before outputs
    were named after the Keras ones)."""
    if len(reference) == 1 and len(produced) == 1:
        return {next(iter(reference)): next(iter(produced.values()))}
    return {name: produced.get(name) for name in reference}


def _per_image(shape) -> tuple:
    """A declared shape without its batch dimension, a free dimension as None."""
    return tuple(None if d is None or int(d) < 0 else int(d) for d in list(shape)[1:])


def shape_failure(name: str, expected: tuple, declared) -> str | None:
    """Why output ``name``, declared ``declared`` (with its batch dimension) by the artifact, is
    not the reference's (``expected``, per image); None when it is or the file does not say
    (no shape given, or every dimension free, as OpenCV reports outputs)."""
    if declared is None:
        return None
    declared = _per_image(declared)
    if all(d is None for d in declared):
        return None
    fits = len(declared) == len(expected) and all(
        have is None or want is None or have == want for have, want in zip(declared, expected))
    if fits:
        return None
    shown = lambda dims: "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"  # noqa: E731
    return (f"output {name} is {shown(declared)} per image where the Keras model's is "
            f"{shown(expected)}")


def output_structure_failures(reference: dict[str, tuple], produced: list) -> list[str]:
    """What is wrong with an artifact's outputs (``produced``: TensorInfo-like objects with a
    ``name`` and a ``shape``, in the file's order; a loaded runner's, whose names are unique) as
    the outputs of the Keras model whose outputs are ``reference`` ({name: per-image shape}): a
    count that differs, an output missing by name, a declared shape that differs. Empty when the
    structure is the model's."""
    names = [info.name for info in produced]
    if len(names) != len(reference):
        return [f"the artifact has {len(names)} output{'s' if len(names) != 1 else ''} "
                f"({', '.join(names)}) where the Keras model has {len(reference)} "
                f"({', '.join(reference)})"]
    paired = pair_outputs(reference, {info.name: info for info in produced})
    failures = [missing_output(name, names) if info is None else
                shape_failure(name, tuple(reference[name]), info.shape)
                for name, info in paired.items()]
    return [failure for failure in failures if failure]


def missing_output(name: str, names) -> str:
    """The failure of a reference output the artifact has none of (its outputs: ``names``)."""
    return f"the artifact has no output named {name} (it has {', '.join(names)})"


def require_model_outputs(reference: list, produced: list, what: str) -> None:
    """Raise :class:`ArtifactMismatch` unless ``produced`` (an artifact's outputs, ``what`` it
    is in words) has the outputs of ``reference`` (the Keras model's, both as TensorInfo-like
    objects with batch dimensions), by :func:`output_structure_failures`."""
    wrong = output_structure_failures({info.name: tuple(info.shape)[1:] for info in reference},
                                      produced)
    if wrong:
        raise ArtifactMismatch(f"{what} does not have the model's outputs, so it was not "
                               f"written: {'; '.join(wrong)}")


def kinds_by_reference_name(reference: dict, kinds: dict) -> dict:
    """The manifest's output kinds keyed by the reference's output names: one output on each side
    is the same output whatever the file names it."""
    if len(kinds) == 1 and len(reference) == 1:
        return {next(iter(reference)): next(iter(kinds.values()))}
    return dict(kinds)


def compare_every_output(reference: dict, produced: dict, kinds: dict, precision: str,
                         trained: bool = True, labels=None, labelled: str | None = None,
                         step: str | None = None, override: Tolerance | None = None,
                         roundoff=lambda name: None, declared: dict | None = None,
                         maps_at_image_size: bool = False,
                         cosine_bar: float | None = None) -> list[OutputVerdict]:
    """A verdict per reference output (``reference`` and ``produced``: {name: (N, ...) array}).
    ``kinds`` gives each output's kind (class scores when missing), ``labels`` judge the
    ``labelled`` output's accuracy, ``step`` (the manifest's post-processing) applies to a
    single output, ``override`` replaces the precision's bar and ``roundoff(name)`` measures the
    reference's float32 round-off for an fp32 output over the fixed bar. ``declared`` ({name:
    shape with batch}, as the artifact's file declares its outputs) fails an output whose declared
    shape is not the reference's, whatever its values. With one output, its kind and the labels
    are that output's whatever the artifact's manifest names it. ``maps_at_image_size``: the
    runtime returns dense maps at the size of the image it was fed (MediaPipe's ImageSegmenter),
    so the reference's maps are resized as it resizes them (:func:`resized_maps`) first.
    ``cosine_bar``: each output's figures count the images whose cosine reaches it."""
    kinds = kinds_by_reference_name(reference, kinds)
    if len(reference) == 1:
        labelled = next(iter(reference))
    verdicts = []
    declared_shapes = pair_outputs(reference, declared) if declared else {}
    extra = [name for name in produced if name not in reference] if len(produced) > 1 else []
    for name, candidate in pair_outputs(reference, produced).items():
        verdict = OutputVerdict(name, kinds.get(name, "scores"))
        verdicts.append(verdict)
        expected = np.asarray(reference[name])
        if candidate is None:
            verdict.fail("missing_output", missing_output(name, produced))
            continue
        mismatch = shape_failure(name, expected.shape[1:], declared_shapes.get(name))
        if mismatch:
            verdict.fail("shape", mismatch)
            continue
        candidate = postprocess(candidate, step) if len(reference) == 1 else \
            np.asarray(candidate, np.float32)
        if maps_at_image_size and verdict.kind == "dense" and expected.ndim == candidate.ndim == 4:
            expected = resized_maps(expected, candidate.shape[1:3])
        if candidate.size != expected.size or len(candidate) != len(expected):
            verdict.fail("size", f"output {tuple(candidate.shape[1:])} per image where the "
                                 f"reference has {tuple(expected.shape[1:])}: the runtime "
                                 "computed another tensor")
            continue
        if not np.all(np.isfinite(candidate)):
            verdict.fail("nonfinite", "outputs contain NaN or infinity")
            continue
        verdict.figures = compare_outputs(expected, candidate,
                                          labels if name == labelled else None, verdict.kind,
                                          cosine_bar=cosine_bar)
        judged, verdict.tolerance = judge_parity(
            verdict.figures, precision, trained, override, roundoff=lambda name=name: roundoff(name))
        for criterion, words in judged:
            verdict.fail(criterion, words)
    if extra:  # an output the reference does not have: not vouched for
        verdicts[0].fail("extra_outputs", "the artifact has outputs the reference has not: "
                                          f"{', '.join(extra)}")
    return verdicts


def resized_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Dense maps (N, h, w, C) resized to ``size`` (H, W) as MediaPipe's ImageSegmenter resizes
    its confidence masks to the image's size: bilinear with half-pixel centres (OpenCV's
    INTER_LINEAR; measured equal to MediaPipe's masks within 6e-8 on an 8x8 map at 16x16)."""
    import cv2

    maps = np.asarray(maps, np.float32)
    if tuple(maps.shape[1:3]) == tuple(size):
        return maps
    return np.stack([cv2.resize(image, (int(size[1]), int(size[0])),
                                interpolation=cv2.INTER_LINEAR).reshape(*size, maps.shape[-1])
                     for image in maps])


def failures_of(verdicts: list[OutputVerdict]) -> list[str]:
    """Every failure of every output in words, each named by its output when there are
    several."""
    if len(verdicts) == 1:
        return list(verdicts[0].failures)
    return [f"{v.name}: {failure}" for v in verdicts for failure in v.failures]


def figures_text(figures: dict) -> str:
    """The figures of one output in a few words, as its kind is judged."""
    text = f"max abs {figures['max_abs']:.2e}"
    kind = figures.get("kind", "scores")
    if kind == "regression":
        return f"{text} ({figures['relative_error']:.2%} of its range)"
    text += f", cosine {figures['min_cosine']:.6f}"
    if kind == "scores" and "decision" in figures:  # one score per image
        return (f"{text}, decision ({figures['decision']}) agreement "
                f"{proportion_text(figures, 'top1_agreement')}, "
                f"{figures['relative_error']:.2%} of its range")
    if kind == "scores":
        return f"{text}, top-1 agreement {proportion_text(figures, 'top1_agreement')}"
    if kind == "embedding" and "neighbour_agreement" in figures:
        return f"{text}, nearest-neighbour agreement {proportion_text(figures, 'neighbour_agreement')}"
    if kind == "dense":
        return f"{text}, per-pixel agreement {figures['pixel_agreement']:.3f}"
    return text
