"""Verification: run every artifact on every runtime that can execute it, each in its own child
process, and compare with the Keras reference named by the artifact's manifest."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from converters.softmax import postprocess

from .compare import Tolerance, compare_outputs, judge_parity, tolerance_for
from .data import default_data_for, load_dataset_for, sample_split
from .errors import UserError
from .isolation import DEFAULT_TIMEOUT, run_isolated
from .manifest import LAST_CONVERT, integrity_failures, read_manifest
from .preprocessing import Preprocessing

BACKENDS = {".tflite": ("tflite", "opencv"), ".onnx": ("onnxruntime", "opencv")}
# the runtime each format is made for: failing to run there is a failure, never "n/a"
PRIMARY = {".tflite": "tflite", ".onnx": "onnxruntime"}
PRIMARY_BACKEND = {"tflite": "tflite", "onnx": "onnxruntime"}  # by export target
ALL_BACKENDS = ("tflite", "opencv", "onnxruntime")
OPENCV_ENGINES = ("new", "classic")
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


def last_converted() -> list[Path]:
    """The artifacts `deploytool convert` wrote last (from .deploytool/last-convert.json)."""
    if not LAST_CONVERT.exists():
        raise UserError(f"no artifact given and no conversion recorded in {LAST_CONVERT}; "
                        "run `deploytool convert` first or name the artifacts")
    return [Path(p) for p in json.loads(LAST_CONVERT.read_text())["artifacts"]]


def manifest_of(artifact: Path) -> dict:
    """The manifest of an existing .tflite/.onnx artifact; a missing file, another file type or a
    missing manifest is a one-line error."""
    if not artifact.exists():
        raise UserError(f"{artifact}: no such file")
    if artifact.suffix.lower() not in BACKENDS:
        raise UserError(f"{artifact}: not a .tflite or .onnx artifact")
    manifest = read_manifest(artifact)
    if manifest is None:
        raise UserError(f"{artifact}: no manifest ({artifact.name}.json) next to it, so no "
                        "reference model to compare with; convert it with `deploytool convert`")
    try:
        for key in ("sha256", "precision", "outputs"):
            manifest["artifact"][key]
        manifest["source"]["reference"]
        Preprocessing.from_dict(manifest["preprocessing"])
        int(manifest["artifact"]["outputs"][0]["shape"][-1])
    except (KeyError, IndexError, TypeError, ValueError, UserError) as exc:
        raise UserError(f"{artifact}.json: not a deploytool manifest (missing or malformed "
                        f"{exc})") from None
    return manifest


def _backends(artifact: Path, requested: str) -> list[tuple[str, bool]]:
    """(backend, asked for by name) pairs to run; a named backend that cannot run this kind of
    file is still returned, so that it is reported."""
    usable = BACKENDS[artifact.suffix.lower()]
    if requested == "all":
        return [(backend, False) for backend in usable]
    if requested not in ALL_BACKENDS:
        raise UserError(f"unknown backend {requested!r}; choose from {', '.join(ALL_BACKENDS)} or all")
    return [(requested, True)]


class _References:
    """Keras reference outputs, computed once per reference model and image set by the Keras
    that saved the reference file, and the reference's own float32 round-off, measured only
    when an fp32 artifact needs it."""

    def __init__(self):
        self._models, self._outputs, self._roundoff = {}, {}, {}

    def model(self, reference: str):
        if reference not in self._models:
            from .sources import load_keras_file

            if not Path(reference).exists():
                raise UserError(f"{reference}: the reference model named by the manifest is missing")
            self._models[reference] = load_keras_file(reference)
        return self._models[reference]

    def outputs(self, reference: str, images: np.ndarray, key: str) -> np.ndarray:
        if (reference, key) not in self._outputs:
            from .runtimes.keras_runner import KerasRunner

            runner = KerasRunner(model=self.model(reference))
            self._outputs[(reference, key)] = runner.infer(images)
        return self._outputs[(reference, key)]

    def roundoff(self, reference: str, images: np.ndarray, key: str) -> float | None:
        if (reference, key) not in self._roundoff:
            from .roundoff import float32_roundoff

            self._roundoff[(reference, key)] = float32_roundoff(
                self.model(reference), images, self.outputs(reference, images, key))
        return self._roundoff[(reference, key)]


def reference_samples(manifest: dict, data: str | None, samples: int, seed: int = 0):
    """Raw held-out 8-bit images for ``manifest``'s artifact, their labels when they fit the
    model (else None), and a description; from ``data``, else the data set the model was
    trained or calibrated on, else the offline default for its channels (digits or photos)."""
    preprocessing = Preprocessing.from_dict(manifest["preprocessing"])
    trained_on = manifest["preprocessing"].get("dataset")
    name = data or trained_on or (manifest.get("calibration") or {}).get("source") or \
        default_data_for(preprocessing.channels)
    if name.endswith(".npy"):
        name = default_data_for(preprocessing.channels)
    dataset = load_dataset_for(name, preprocessing)
    raw, labels, count = sample_split(dataset, "test", samples, seed)
    classes = manifest["artifact"]["outputs"][0]["shape"][-1]
    labels_fit = dataset.labelled and classes == dataset.num_classes and \
        (data is not None or trained_on == name)
    return raw, (labels if labels_fit else None), {
        "dataset": name, "split": "test", "samples": count, "seed": seed,
        "labelled": bool(labels_fit)}


def verification_images(manifest: dict, data: str | None, samples: int, seed: int = 0):
    """:func:`reference_samples`, preprocessed into model input."""
    raw, labels, description = reference_samples(manifest, data, samples, seed)
    return Preprocessing.from_dict(manifest["preprocessing"]).apply(raw), labels, description


def _run_backend(artifact, backend, images, reference, labels, step, judge_figures, threads, timeout):
    """The figures of one backend; OpenCV tries its engines until one agrees with the reference.
    ``judge_figures(figures)`` gives the failures of a set of figures."""
    engines = OPENCV_ENGINES if backend == "opencv" else (None,)
    attempts = []
    for engine in engines:
        options = {"engine": engine} if engine else {}
        started = time.perf_counter()
        run = run_isolated(artifact, backend, images, threads=threads, timeout=timeout, **options)
        seconds = time.perf_counter() - started
        if not run.ok:
            attempts.append((engine, None, [f"{run.kind}: {run.error}"], run.meta, seconds))
            continue
        outputs = postprocess(run.outputs, step)
        if not np.all(np.isfinite(outputs)):
            attempts.append((engine, None, ["outputs contain NaN or infinity"], run.meta, seconds))
            continue
        figures = compare_outputs(reference, outputs, labels)
        failures = judge_figures(figures)
        attempts.append((engine, figures, failures, run.meta, seconds))
        if not failures:
            break
    # the first engine that passed, else the first that produced figures, else the last error
    chosen = next((a for a in attempts if a[1] is not None and not a[2]), None) or \
        next((a for a in attempts if a[1] is not None), None) or attempts[-1]
    engine, figures, failures, meta, seconds = chosen
    if figures is None and len(attempts) > 1:  # no engine ran it: say what each answered
        reasons = {}
        for attempt in attempts:
            reasons.setdefault(attempt[2][0], []).append(attempt[0])
        failures = ["; ".join(f"{' and '.join(engines)} engine{'s' if len(engines) > 1 else ''}: "
                              f"{reason}" for reason, engines in reasons.items())]
        engine = None
    return figures, failures, engine, meta.get("input_layout"), seconds


def verify(artifacts=None, backend: str = "all", data: str | None = None,
           samples: int = DEFAULT_SAMPLES, tolerance: Tolerance | None = None,
           threads: int = 2, timeout: float = DEFAULT_TIMEOUT, log=lambda message: None) -> VerifyReport:
    """Verify ``artifacts`` (default: what `deploytool convert` wrote last) on ``backend``
    ("all" or one of tflite, opencv, onnxruntime) against their manifests' Keras references.
    ``tolerance`` overrides the per-precision defaults."""
    if samples < 1:
        raise UserError(f"--samples must be at least 1, got {samples}")
    artifacts = [Path(a) for a in artifacts] if artifacts else last_converted()
    manifests = {artifact: manifest_of(artifact) for artifact in artifacts}
    references = _References()
    rows, used_images, tolerances = [], {}, {}
    for artifact, manifest in manifests.items():
        precision = manifest["artifact"]["precision"]
        trained = manifest["source"].get("trained", True)
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
        reference_file = manifest["source"]["reference"]
        reference = references.outputs(reference_file, images, key)

        def judge_figures(figures, artifact=artifact, precision=precision, trained=trained,
                          reference_file=reference_file, images=images, key=key):
            failures, used = judge_parity(
                figures, precision, trained, tolerance,
                roundoff=lambda: references.roundoff(reference_file, images, key))
            if used.reference_roundoff is not None:  # the bar this artifact was held to
                tolerances[artifact.name] = used.as_dict()
            return failures

        for name, named in _backends(artifact, backend):
            log(f"{artifact.name} on {name}")
            if name not in BACKENDS[artifact.suffix.lower()]:
                rows.append(VerifyRow(artifact.name, name, precision, "fail",
                                      failures=[f"{name} does not run {artifact.suffix} files"]))
                continue
            figures, failures, engine, layout, seconds = _run_backend(
                artifact, name, images, reference, labels, manifest.get("postprocess"),
                judge_figures, threads, timeout)
            if figures is None and not named and name != PRIMARY[artifact.suffix.lower()]:
                status = "n/a"  # another runtime cannot run it, and was not asked for by name
            else:
                status = "fail" if failures else "pass"
            rows.append(VerifyRow(artifact.name, name, precision, status, figures, failures,
                                  engine, layout, round(seconds, 3)))
    return VerifyReport(rows, used_images, tolerances)
