"""Verification: run every artifact on every runtime that can execute it, each in its own child
process, and compare with the Keras reference named by the artifact's manifest."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from deploytool.core.compare import Tolerance, client_tolerance, tolerance_for
from deploytool.core.errors import UserError
from deploytool.core.manifest import integrity_failures, last_converted
from deploytool.core.output_parity import (compare_every_output, failures_of,
                                            kinds_by_reference_name, pair_outputs)
from deploytool.runtimes.base import DEFAULT_THREADS, artifact_runtimes, runners, runtimes_reading
from deploytool.runtimes.isolation import DEFAULT_TIMEOUT, run_variants
from deploytool.workflows.artifacts import manifest_of, reference_samples
from deploytool.workflows.layer_search.runtime_diff import locate_divergence

DEFAULT_SAMPLES = 64


@dataclass
class VerifyRow:
    """One output of one artifact on one backend."""

    artifact: str
    backend: str
    precision: str
    status: str  # pass | fail | n/a (the backend cannot run it and was not asked for by name)
    output: str | None = None  # the Keras output compared
    kind: str | None = None  # how it is judged: scores, regression, embedding or dense
    figures: dict | None = None
    failures: list[str] = field(default_factory=list)
    engine: str | None = None
    input_layout: str | None = None
    seconds: float = 0.0
    median_ms: float | None = None  # batch-1 latency, when verify was asked to time
    notes: list[str] = field(default_factory=list)  # e.g. what an engine passed over got wrong
    # what each variant of the runtime tried before the one used answered (OpenCV's NEW engine,
    # TensorFlow's default path where only its oneDNN variant ran the file)
    passed_over: list[str] = field(default_factory=list)
    # what failed, as code decides on it (failures says it in words): the criteria and structure
    # failures of deploytool.core.compare
    failed: list[str] = field(default_factory=list)
    # its outputs against a runtime it must equal (the app's LiteRT on ARM64 against x86's)
    agreement: dict | None = None


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

    def outputs(self, reference: str, images: np.ndarray, key: str) -> dict[str, np.ndarray]:
        if (reference, key) not in self._outputs:
            from deploytool.runtimes.keras_runner import KerasRunner

            runner = KerasRunner(model=self.model(reference))
            self._outputs[(reference, key)] = runner.infer_all(images)
        return self._outputs[(reference, key)]

    def roundoff(self, reference: str, images: np.ndarray, key: str, name: str) -> float | None:
        if (reference, key, name) not in self._roundoff:
            from deploytool.core.roundoff import float32_roundoff

            outputs = self.outputs(reference, images, key)
            self._roundoff[(reference, key, name)] = float32_roundoff(
                self.model(reference), images, outputs[name], list(outputs).index(name))
        return self._roundoff[(reference, key, name)]


@dataclass
class _BackendRun:
    """What one runtime gave on one artifact: the output verdicts (None where it did not run),
    the failures, the engine and layout it used, its outputs as they came and as it declared
    them, and timings."""

    verdicts: list | None
    failures: list[str]
    engine: str | None
    layout: str | None
    seconds: float
    median_ms: float | None
    passed_over: list[str]
    outputs: dict | None
    declared: list
    kind: str = "ok"  # the chosen run's: ok, error, crash, timeout or refused


def _run_backend(artifact, backend, images, compare, threads, timeout, timing=None) -> _BackendRun:
    """The output verdicts of one backend; a runtime with variants (OpenCV's engines) tries
    them until one agrees with the reference on every output. ``compare(outputs, declared)``
    gives the verdicts of a run's outputs (``declared``: the file's outputs as the runner
    described them). With ``timing`` ({"runs", "warmup"}) the same child also
    times batch-1 calls, as bench does."""
    verdicts_of = {}

    def judge(run):
        verdicts_of[id(run)] = compare(run.outputs, run.meta.get("outputs") or [])
        return failures_of(verdicts_of[id(run)])

    bench = {**timing, "batch": 1} if timing else None
    attempts = run_variants(artifact, backend, images, judge, threads=threads, timeout=timeout,
                            bench=bench)
    # the first variant that passed, else the one that came closest (its worst output's worst
    # cosine: OpenCV's NEW engine can give zeros where CLASSIC fails only by rounding), else the
    # last error
    def closeness(attempt) -> float:
        cosines = [v.figures.get("min_cosine", -1.0) for v in verdicts_of.get(id(attempt.run), [])
                   if v.figures]
        return min(cosines) if cosines else float("-inf")

    compared = [a for a in attempts if closeness(a) > float("-inf")]
    chosen = next((a for a in attempts if a.agrees), None) or \
        (max(compared, key=closeness) if compared else attempts[-1])
    verdicts, failures = verdicts_of.get(id(chosen.run)), chosen.failures
    name_of = runners()[backend].variant_name
    variant = name_of(chosen.options)
    if verdicts is None and len(attempts) > 1:  # no variant ran it: say what each answered
        reasons = {}
        for attempt in attempts:
            reasons.setdefault(attempt.failures[0], []).append(name_of(attempt.options))
        failures = ["; ".join(f"{' and '.join(engines)} engine{'s' if len(engines) > 1 else ''}: "
                              f"{reason}" for reason, engines in reasons.items())]
        variant = None
    timings = chosen.run.meta.get("timings")
    median_ms = float(np.median(timings)) * 1e3 if timings else None
    # a variant tried before the chosen one that failed, by disagreeing or by not running: a
    # user of it gets that
    passed_over = [f"{name_of(a.options)} engine (not used): {'; '.join(a.failures)}"
                   for a in attempts[:attempts.index(chosen)]
                   if a.failures and name_of(a.options)]
    engine = chosen.run.meta.get("engine") or (variant if chosen.options else None)
    return _BackendRun(verdicts, failures, engine,
                       chosen.run.meta.get("input_layout"), chosen.seconds, median_ms, passed_over,
                       chosen.run.outputs, chosen.run.meta.get("outputs") or [], chosen.run.kind)


def engine_reasons(message: str) -> list[str]:
    """An OpenCV failure's reasons, one per engine (``new engine: A; classic engine: B``), or the
    message itself when it names no engine."""
    parts = [part for part in re.split(r"(?:^|; )\w+(?: and \w+)? engines?: ", message) if part]
    return parts or [message]


def opencv_failing_layer(artifact: Path, message: str, images: np.ndarray) -> str | None:
    """The layer an OpenCV load or run failure comes from, where its ``message`` names none: read
    from a .tflite's flatbuffer, found in an .onnx by running OpenCV on cuts of the graph."""
    unnamed = [reason for reason in engine_reasons(message) if "Can't create layer" not in reason]
    if not unnamed:  # OpenCV named it, on every engine that failed
        return None
    message = "; ".join(unnamed)
    if artifact.suffix == ".tflite":
        from deploytool.workflows.layer_search.opencv_tflite_layers import failing_layer

        return failing_layer(artifact, message)
    if artifact.suffix == ".onnx" and "at layer " not in message:  # CLASSIC's log named none
        from deploytool.workflows.layer_search.opencv_onnx_nodes import failing_node

        return failing_node(artifact, images,
                            reproduction_dir=artifact.with_name(artifact.stem + "_diagnose"))
    return None


@dataclass
class _Subject:
    """One artifact as verify runs it: its manifest, the reference's output names and kinds, the
    images (as model input and as 8-bit pixels), how a run's outputs are compared, and the
    runtimes that read it (its own first)."""

    artifact: Path
    manifest: object
    names: list
    kinds: dict
    images: np.ndarray
    raw: np.ndarray
    compare: object
    readers: list
    runs: dict = field(default_factory=dict)  # each runtime's outputs, once it ran


def _agreement_notes(subject: _Subject, name: str, threads, timeout, run: _BackendRun):
    """A runtime that must compute what another does (``compared_with``): its outputs against
    that runtime's on the same images (run here unless it ran already), by the reference's
    output names."""
    other = runners()[name].compared_with
    if other is None or run.outputs is None:
        return {}
    if other not in subject.runs:
        from deploytool.runtimes.isolation import run_isolated

        done = run_isolated(subject.artifact, other, subject.images, threads, timeout)
        subject.runs[other] = done.outputs
    if subject.runs[other] is None:
        return {}
    from deploytool.core.runtime_agreement import agreement

    compared = agreement(run.outputs, subject.runs[other], run.declared, other)
    paired = pair_outputs(dict.fromkeys(subject.names), {a.output: a for a in compared})
    return {output: found for output, found in paired.items() if found is not None}


def _backend_rows(subject: _Subject, name: str, named: bool, tolerance, data, threads, timeout,
                  timing) -> list[VerifyRow]:
    """The rows of one artifact on one runtime: one per output compared, or the same reason for
    every output where it did not run (n/a where another runtime cannot run it and was not
    asked for by name)."""
    artifact, precision, kinds = subject.artifact, subject.manifest.precision, subject.kinds
    if name not in subject.readers:
        return [VerifyRow(artifact.name, name, precision, "fail", output, kinds.get(output),
                          failures=[f"{name} does not run {artifact.suffix} files"],
                          failed=["unsupported"]) for output in subject.names]
    fed, judge = subject.images, subject.compare
    if runners()[name].takes_pixels:  # a client that preprocesses by itself
        fed = subject.raw
        judge = functools.partial(subject.compare, client=True, judged_by=tolerance or
                                  client_tolerance(precision, subject.manifest.trained))
    run = _run_backend(artifact, name, fed, judge, threads, timeout, timing)
    subject.runs.setdefault(name, run.outputs)
    verdicts, failures, passed_over = run.verdicts, run.failures, run.passed_over
    agreements = _agreement_notes(subject, name, threads, timeout, run)
    if verdicts is None and not named and name != subject.readers[0]:
        status = "n/a"  # another runtime cannot run it, and was not asked for by name
    else:
        status = "fail" if failures else "pass"
    common = dict(engine=run.engine, input_layout=run.layout, seconds=round(run.seconds, 3),
                  median_ms=run.median_ms)
    if verdicts is None and name == "opencv" and failures:  # n/a under "all" included
        layer = opencv_failing_layer(artifact, " ".join(failures), subject.images)
        failures = [*failures, layer] if layer else failures
    if verdicts is None:  # it did not run: the same reason for every output
        why = "refused" if run.kind == "refused" else "not_run"  # a client declined the file
        return [VerifyRow(artifact.name, name, precision, status, output, kinds.get(output),
                          failures=failures, failed=[why], **common)
                for output in subject.names]
    if name == "opencv" and failures:
        located = locate_divergence(artifact, data)  # the layer OpenCV gets wrong
        for verdict in verdicts:
            if located and verdict.failures:
                verdict.failures = [*verdict.failures, located]
    rows = []
    for verdict in verdicts:
        found = agreements.get(verdict.name)  # against the runtime it must equal, if any
        apart = found is not None and found.failed  # more than rounding apart from it
        rows.append(VerifyRow(
            artifact.name, name, precision, "pass" if verdict.passed and not apart else "fail",
            verdict.name, verdict.kind, verdict.figures,
            [*verdict.failures, *([found.note()] if apart else [])], **common,
            notes=[*passed_over, *([found.note()] if found is not None and not apart else [])],
            passed_over=passed_over,
            failed=[*verdict.failed, *(["runtime_agreement"] if apart else [])],
            agreement=found.as_dict() if found is not None else None))
    return rows


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
                               failures=integrity + ["not run"], failed=["integrity"])
                     for name, _ in _backends(artifact, backend)]
            continue
        raw, labels, description = reference_samples(manifest, data, samples)
        images = manifest.preprocessing.apply(raw)
        used_images[artifact.name] = description
        key = json.dumps(description, sort_keys=True)
        reference_file = str(manifest.reference)
        reference = manifest.kept_outputs(references.outputs(reference_file, images, key))
        names, kinds = list(reference), kinds_by_reference_name(reference, manifest.output_kinds)

        def compare(outputs, declared, artifact=artifact, manifest=manifest, reference=reference,
                    kinds=kinds, reference_file=reference_file, images=images, key=key,
                    labels=labels, judged_by=None, client=False):
            verdicts = compare_every_output(
                reference, outputs, kinds, manifest.precision, manifest.trained, labels,
                manifest.labelled_output, manifest.postprocess, judged_by or tolerance,
                roundoff=lambda name: references.roundoff(reference_file, images, key, name),
                declared={info["name"]: info["shape"] for info in declared},
                maps_at_image_size=client)
            for verdict in verdicts:  # the bar an fp32 output was held to, when it was measured
                if verdict.tolerance is not None and verdict.tolerance.reference_roundoff is not None:
                    tolerances[artifact.name] = verdict.tolerance.as_dict()
            return verdicts

        subject = _Subject(artifact, manifest, names, kinds, images, raw, compare,
                           runtimes_reading(artifact))
        for name, named in _backends(artifact, backend):
            log(f"{artifact.name} on {name}")
            rows += _backend_rows(subject, name, named, tolerance, data, threads, timeout, timing)
    return VerifyReport(rows, used_images, tolerances)

