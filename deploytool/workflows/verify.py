"""Verification: run every artifact on every runtime that can execute it, each in its own child
process, and compare with the Keras reference named by the artifact's manifest."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from deploytool.core.compare import Tolerance, compare_outputs, judge_parity, tolerance_for
from deploytool.core.errors import UserError
from deploytool.core.manifest import integrity_failures, last_converted
from deploytool.core.postprocess import postprocess
from deploytool.runtimes.base import DEFAULT_THREADS, artifact_runtimes, runtimes_reading
from deploytool.runtimes.isolation import DEFAULT_TIMEOUT, run_variants
from deploytool.workflows.artifacts import manifest_of, verification_images

DEFAULT_SAMPLES = 64


@dataclass
class VerifyRow:
    """One artifact on one backend."""

    artifact: str
    backend: str
    precision: str
    status: str  # pass | fail | n/a (the backend cannot run it and was not asked for by name)
    figures: dict | None = None
    failures: list[str] = field(default_factory=list)
    engine: str | None = None
    input_layout: str | None = None
    seconds: float = 0.0
    median_ms: float | None = None  # batch-1 latency, when verify was asked to time


@dataclass
class VerifyReport:
    """Every row, the tolerance each artifact was judged by, and the images used."""

    rows: list[VerifyRow]
    images: dict
    tolerances: dict

    @property
    def passed(self) -> bool:
        """True when no row failed."""
        return all(row.status != "fail" for row in self.rows)

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"passed": self.passed, "images": self.images, "tolerances": self.tolerances,
                "rows": [asdict(row) for row in self.rows]}


def _backends(artifact: Path, requested: str) -> list[tuple[str, bool]]:
    """(backend, asked for by name) pairs to run; a named backend that cannot run this kind of
    file is still returned, so that it is reported."""
    if requested == "all":
        return [(backend, False) for backend in runtimes_reading(artifact)]
    if requested not in artifact_runtimes():
        raise UserError(f"unknown backend {requested!r}; choose from "
                        f"{', '.join(artifact_runtimes())} or all")
    return [(requested, True)]


class _References:
    """Keras reference outputs, computed once per reference model and image set by the Keras
    that saved the reference file, and the reference's own float32 round-off, measured only
    when an fp32 artifact needs it."""

    def __init__(self):
        self._models, self._outputs, self._roundoff = {}, {}, {}

    def model(self, reference: str):
        if reference not in self._models:
            from deploytool.sources.keras_files import load_keras_file

            if not Path(reference).exists():
                raise UserError(f"{reference}: the reference model named by the manifest is missing")
            self._models[reference] = load_keras_file(reference)
        return self._models[reference]

    def outputs(self, reference: str, images: np.ndarray, key: str) -> np.ndarray:
        if (reference, key) not in self._outputs:
            from deploytool.runtimes.keras_runner import KerasRunner

            runner = KerasRunner(model=self.model(reference))
            self._outputs[(reference, key)] = runner.infer(images)
        return self._outputs[(reference, key)]

    def roundoff(self, reference: str, images: np.ndarray, key: str) -> float | None:
        if (reference, key) not in self._roundoff:
            from deploytool.core.roundoff import float32_roundoff

            self._roundoff[(reference, key)] = float32_roundoff(
                self.model(reference), images, self.outputs(reference, images, key))
        return self._roundoff[(reference, key)]


def _run_backend(artifact, backend, images, reference, labels, step, judge_figures, threads,
                 timeout, timing=None):
    """The figures of one backend; a runtime with variants (OpenCV's engines) tries them until
    one agrees with the reference. ``judge_figures(figures)`` gives the failures of figures.
    With ``timing`` ({"runs", "warmup"}) the same child also times batch-1 calls, as bench does."""
    figures_of = {}

    def judge(run):
        produced = [output["name"] for output in run.meta.get("outputs", [])]
        if len(produced) > 1:  # written before convert kept one output per artifact
            return [f"the artifact has {len(produced)} outputs ({', '.join(produced)}) and verify "
                    "compares one per artifact: reconvert it, leaving the others out with "
                    "--drop-output"]
        outputs = postprocess(run.outputs, step)
        if outputs.shape != np.shape(reference):
            return [f"outputs {outputs.shape[1:]} per image where the reference has "
                    f"{np.shape(reference)[1:]}: the runtime computed another tensor"]
        if not np.all(np.isfinite(outputs)):
            return ["outputs contain NaN or infinity"]
        figures_of[id(run)] = compare_outputs(reference, outputs, labels)
        return judge_figures(figures_of[id(run)])

    bench = {**timing, "batch": 1} if timing else None
    attempts = run_variants(artifact, backend, images, judge, threads=threads, timeout=timeout,
                            bench=bench)
    # the first variant that passed, else the first that produced figures, else the last error
    chosen = next((a for a in attempts if a.agrees), None) or \
        next((a for a in attempts if id(a.run) in figures_of), None) or attempts[-1]
    figures, failures = figures_of.get(id(chosen.run)), chosen.failures
    variant = chosen.options.get("engine")
    if figures is None and len(attempts) > 1:  # no variant ran it: say what each answered
        reasons = {}
        for attempt in attempts:
            reasons.setdefault(attempt.failures[0], []).append(attempt.options.get("engine"))
        failures = ["; ".join(f"{' and '.join(engines)} engine{'s' if len(engines) > 1 else ''}: "
                              f"{reason}" for reason, engines in reasons.items())]
        variant = None
    timings = chosen.run.meta.get("timings")
    median_ms = float(np.median(timings)) * 1e3 if timings else None
    return figures, failures, variant, chosen.run.meta.get("input_layout"), chosen.seconds, median_ms


def verify(artifacts=None, backend: str = "all", data: str | None = None,
           samples: int = DEFAULT_SAMPLES, tolerance: Tolerance | None = None,
           threads: int = DEFAULT_THREADS, timeout: float = DEFAULT_TIMEOUT, timing: dict | None = None,
           log=lambda message: None) -> VerifyReport:
    """Verify ``artifacts`` (default: what `deploytool convert` wrote last) on ``backend``
    ("all" or one registered runtime) against their manifests' Keras references.
    ``tolerance`` overrides the per-precision defaults. With ``timing`` ({"runs": N,
    "warmup": W}) each runtime's child also times N batch-1 calls (the row's ``median_ms``)."""
    if samples < 1:
        raise UserError(f"--samples must be at least 1, got {samples}")
    artifacts = [Path(a) for a in artifacts] if artifacts else last_converted()
    manifests = {artifact: manifest_of(artifact) for artifact in artifacts}
    references = _References()
    rows, used_images, tolerances = [], {}, {}
    for artifact, manifest in manifests.items():
        precision, trained = manifest.precision, manifest.trained
        tolerances[artifact.name] = (tolerance or tolerance_for(precision, trained)).as_dict()
        integrity = integrity_failures(artifact, manifest)
        if integrity:  # not the file that was converted: nothing it computes can be vouched for
            rows += [VerifyRow(artifact.name, name, precision, "fail",
                               failures=integrity + ["not run"])
                     for name, _ in _backends(artifact, backend)]
            continue
        images, labels, description = verification_images(manifest, data, samples)
        used_images[artifact.name] = description
        key = json.dumps(description, sort_keys=True)
        reference_file = str(manifest.reference)
        reference = references.outputs(reference_file, images, key)

        def judge_figures(figures, artifact=artifact, precision=precision, trained=trained,
                          reference_file=reference_file, images=images, key=key):
            failures, used = judge_parity(
                figures, precision, trained, tolerance,
                roundoff=lambda: references.roundoff(reference_file, images, key))
            if used.reference_roundoff is not None:  # the bar this artifact was held to
                tolerances[artifact.name] = used.as_dict()
            return failures

        readers = runtimes_reading(artifact)
        for name, named in _backends(artifact, backend):
            log(f"{artifact.name} on {name}")
            if name not in readers:
                rows.append(VerifyRow(artifact.name, name, precision, "fail",
                                      failures=[f"{name} does not run {artifact.suffix} files"]))
                continue
            figures, failures, engine, layout, seconds, median_ms = _run_backend(
                artifact, name, images, reference, labels, manifest.postprocess,
                judge_figures, threads, timeout, timing)
            if figures is None and not named and name != readers[0]:
                status = "n/a"  # another runtime cannot run it, and was not asked for by name
            else:
                status = "fail" if failures else "pass"
            rows.append(VerifyRow(artifact.name, name, precision, status, figures, failures,
                                  engine, layout, round(seconds, 3), median_ms))
    return VerifyReport(rows, used_images, tolerances)
