"""`deploytool run`: train (or take a model) -> convert to every artifact -> verify on every runtime
-> bench -> bundle for Android -> report, in one run folder. Each finished step is recorded in
``state.json`` (:mod:`.run_state`) and skipped when the command is run again, so an interrupted
run resumes where it stopped; the report is :mod:`.run_report`'s."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import targets
from deploytool.core.errors import UserError
from deploytool.core.fileio import write_bytes
from deploytool.core.manifest import Manifest
from deploytool.models import list_models
from deploytool.runtimes.base import DEFAULT_THREADS
from deploytool.sources.datasets import check_dataset_name, is_array_file
from deploytool.sources.labels import read_labels
from deploytool.sources.model_source import RUN_MODEL, load_source
from deploytool.workflows.measuring.bench import bench, plot_latency, slower_than_float
from deploytool.workflows.bundle import app_bundle_folder, bundle
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.pipeline.run_report import plot_parity, render_report
from deploytool.workflows.pipeline.run_state import RunState
from deploytool.workflows.training.train import TrainOptions, train
from deploytool.workflows.verification.verify import verify

BUNDLED = ("tflite", "int8")  # the artifact the Android app gets, unless it fails or fp32 is asked for
BUNDLE_FALLBACK = ("tflite", "fp32")


DEFAULT_TRAIN_DATA = "digits"  # what `run` trains a zoo model on unless told


def pipeline_artifacts() -> list[tuple[str, str]]:
    """(target, precision) of every artifact a run writes: each registered target in float32
    and, where it offers it, full int8."""
    return [(name, precision) for name, chosen in targets().items()
            for precision in ("fp32", "int8") if precision in chosen.precisions]


def recorded_artifact(entries: list[dict], kind: tuple[str, str]) -> dict:
    """The convert step's entry of the artifact of ``kind`` (target, precision), found by what
    each entry records, never by its position (the registry may have changed since)."""
    def kind_of(entry: dict) -> tuple[str, str]:
        if "target" in entry:
            return entry["target"], entry["precision"]
        manifest = Manifest.read(entry["path"])  # a run folder from before entries said so
        return manifest.format, manifest.precision

    found = next((entry for entry in entries if kind_of(entry) == kind), None)
    if found is None:
        raise UserError(f"the run folder's convert step recorded no {kind[0]} {kind[1]} artifact; "
                        "run again with --fresh to convert again")
    return found


def bundled_kind(verify_rows: list[dict], bench_rows: list[dict], entries: list[dict],
                 prefer: str | None = None) -> tuple[tuple, str, bool]:
    """Which .tflite the app gets, why, and whether it passed verify on LiteRT. What is known
    about the phone decides, not this machine's clock: the int8 file (the smallest, and int8 is
    what the phone's CPU kernels are fastest at), or the fp32 one with ``prefer`` "fp32", when it
    passed verify; else the other one, when that passed; where neither passed, the preferred one,
    said to be unverified. The desktop timings are quoted as desktop timings."""
    wanted = ("tflite", prefer or "int8")
    other = BUNDLE_FALLBACK if wanted == BUNDLED else BUNDLED
    files = {kind: recorded_artifact(entries, kind)["file"] for kind in (wanted, other)}
    runtime = "tflite"

    def passed(kind):
        return any(r["artifact"] == files[kind] and r["backend"] == runtime
                   and r["status"] == "pass" for r in verify_rows)

    def median(kind):
        return next((r["median_ms"] for r in bench_rows if r["artifact"] == files[kind]
                     and r["backend"] == runtime and r["status"] == "ok"), None)

    timed = [(files[kind], median(kind)) for kind in (BUNDLED, BUNDLE_FALLBACK)]
    desktop = ("; desktop timings on x86 LiteRT here, not a phone's: " + ", ".join(
        f"{file} {ms:.3g} ms" for file, ms in timed) if all(ms for _, ms in timed) else "")
    if not passed(wanted) and not passed(other):
        return wanted, (f"neither {files[wanted]} nor {files[other]} passed verify on LiteRT: "
                        f"{files[wanted]} is bundled UNVERIFIED, its answers not vouched for"), False
    if not passed(wanted):
        return other, f"{files[wanted]} failed verify on LiteRT; {files[other]} passed{desktop}", True
    reason = "as --prefer asked" if prefer else "the smallest file"
    return wanted, f"{wanted[1]}, {reason}, verified on LiteRT{desktop}", True


def bundle_into(artifact: str, out: Path, app) -> dict:
    """Bundle ``artifact`` into ``app`` (else into the run folder); a model without labels is
    recorded as skipped, with the reason."""
    from deploytool.workflows.artifacts import manifest_of

    if not manifest_of(Path(artifact)).labels:
        return {"skipped": "the model has no class names (it was not trained here): give them "
                           "with `deploytool run ... --labels FILE` or `deploytool bundle "
                           "ARTIFACT --labels FILE`"}
    destination = app_bundle_folder(app) if app else out / "android_bundle"
    report = bundle(artifact, destination)
    return {**asdict(report), "size_bytes": report.size_bytes, "in_app": bool(app)}


@dataclass
class RunPlan:
    """What a run was asked to do, checked and resolved before any work (:func:`plan_run`), and
    each step's options as the run folder's state records them (a changed one redoes the step)."""

    model: str
    out: Path
    train_options: TrainOptions
    weights: object
    data: str | None  # what a zoo model trains on
    given_data: str | None  # what calibration and verify use (None: the model's own)
    calib_data: str | None
    labels: object
    samples: int
    runs: int
    app: object
    trained_here: bool
    prefer: str | None = None  # the bundle's precision where the user chose it

    @property
    def run_folder(self) -> Path:
        """Where a zoo model trained here is written (its name becomes the artifacts' stem)."""
        return self.out / Path(self.model).name

    def step_options(self) -> dict:
        """Each step's options, as the state records them."""
        return {
            "train": {"model": str(self.model), "data": self.data,
                      "weights": str(self.weights) if self.weights else None,
                      **(asdict(self.train_options) if self.trained_here else {})},
            "convert": {"calib_data": self.calib_data, "preprocess": self.train_options.preprocess,
                        "labels": str(self.labels) if self.labels else None,
                        "artifacts": pipeline_artifacts()},
            "verify": {"data": self.given_data, "samples": self.samples},
            "bench": {"runs": self.runs, "threads": DEFAULT_THREADS},
            "bundle": {"app": str(self.app) if self.app else None, "prefer": self.prefer}}


def plan_run(model: str, data: str | None, out, train_options: TrainOptions, weights=None,
             samples: int = 64, runs: int = 20, app=None, calib_data: str | None = None,
             labels=None, prefer: str | None = None) -> RunPlan:
    """The run's plan, every input refused in one line before hours of work: a wrong app
    folder, an unknown model or data set, unreadable labels, impossible training options."""
    if app:
        app_bundle_folder(app)
    if model not in list_models() and not Path(model).exists():
        load_source(model)  # raises the right one-line error
    if data is not None:
        data = check_dataset_name(data)
    if calib_data is not None and not is_array_file(calib_data):
        calib_data = check_dataset_name(calib_data)
    if labels is not None:
        read_labels(labels)
    train_options.check()
    trained_here = not weights and model in list_models()
    given_data = None if trained_here else data
    return RunPlan(model, Path(out), train_options, weights,
                   (data or DEFAULT_TRAIN_DATA) if trained_here else data, given_data,
                   calib_data or given_data, labels, samples, runs, app, trained_here, prefer)


def train_step(plan: RunPlan, state: RunState, log) -> None:
    """Train the zoo model into the run folder, or record that the given model is taken."""
    options = plan.step_options()["train"]
    if not plan.trained_here:
        log("taking the given model instead of training")
        state.finish("train", {"model": plan.model, "data": plan.data, "test_accuracy": None},
                     options)
        return
    log(f"training {plan.model} on {plan.data}")
    if plan.run_folder.exists():
        shutil.rmtree(plan.run_folder)
    state.finish("train", train(plan.model, plan.data, plan.run_folder, plan.train_options),
                 options)


def convert_step(plan: RunPlan, state: RunState, log) -> None:
    """Every artifact of :func:`pipeline_artifacts` from the trained run folder (its
    preprocessing recorded) or the given model (with the preprocessing asked for)."""
    spec = str(plan.run_folder) if (plan.run_folder / RUN_MODEL).exists() else plan.model
    source = load_source(spec, weights=plan.weights, preprocess=plan.train_options.preprocess,
                         labels=plan.labels)
    entries = []
    for to, precision in pipeline_artifacts():
        log(f"converting to {to} {precision}")
        result = convert(source, ConvertOptions(to=to, precision=precision,
                                                calib_data=plan.calib_data,
                                                out_dir=plan.out / "artifacts"))
        entries.append({"path": str(result.artifact), "file": result.artifact.name,
                        "target": to, "precision": precision,
                        "size_bytes": result.manifest.size_bytes,
                        "sha256": result.manifest.sha256,
                        "conversion_seconds": result.manifest.conversion_seconds})
    state.finish("convert", entries, plan.step_options()["convert"])


def verify_step(plan: RunPlan, state: RunState, artifacts: list[str], log) -> None:
    """Every artifact on every runtime, and the parity plot."""
    log("verifying on every runtime")
    report = verify(artifacts, "all", data=plan.given_data, samples=plan.samples)
    images = "; ".join(sorted({f"{d['samples']} {d['dataset']} images"
                               for d in report.images.values()}))
    log(f"verified on {images}")
    state.finish("verify", report.as_dict(), plan.step_options()["verify"])
    plot_parity(report.as_dict()["rows"], plan.out / "parity.png", report.tolerances)


def bench_step(plan: RunPlan, state: RunState, artifacts: list[str], log) -> None:
    """Every artifact timed on every runtime, and the latency plot."""
    log("benchmarking")
    rows = bench(artifacts, "all", threads=DEFAULT_THREADS, batch=1, runs=plan.runs, warmup=3)
    for line in slower_than_float(rows):
        log(line)
    plot_latency(rows, plan.out / "latency.png")
    state.finish("bench", [asdict(row) for row in rows], plan.step_options()["bench"])


def bundle_step(plan: RunPlan, state: RunState, log) -> None:
    """The .tflite :func:`bundled_kind` chooses, bundled for Android, with why and whether it
    verified."""
    kind, why, verified = bundled_kind(state.result("verify")["rows"], state.result("bench"),
                                       state.result("convert"), plan.prefer)
    entry = recorded_artifact(state.result("convert"), kind)
    log(f"bundling {entry['file']} for Android: {why}")
    state.finish("bundle", {**bundle_into(entry["path"], plan.out, plan.app), "why": why,
                            "file": entry["file"], "verified": verified},
                 plan.step_options()["bundle"])


def finish_run(plan: RunPlan, state: RunState) -> Path:
    """Write the report; raise :class:`PipelineParityError` (naming the int8 artifacts diagnose
    explains) when an artifact failed verification."""
    from deploytool.workflows.quantization.diagnose import needs_diagnosis

    report_path = plan.out / "report.md"
    write_bytes(report_path, render_report(plan.out, state).encode())
    state.finish("report", str(report_path))
    if not state.result("verify")["passed"]:
        rows = [r for r in state.result("verify")["rows"] if r["status"] == "fail"]
        failed = [f"{r['artifact']} on {r['backend']}" for r in rows]
        quantized = sorted({r["artifact"] for r in rows
                            if needs_diagnosis(r["precision"], r.get("failed") or [])})
        raise PipelineParityError(report_path, failed,
                                  [plan.out / "artifacts" / name for name in quantized])
    return report_path


def run_pipeline(model: str, data: str | None, out, train_options: TrainOptions, weights=None,
                 samples: int = 64, runs: int = 20, app=None, log=lambda message: None,
                 fresh: bool = False, calib_data: str | None = None, labels=None,
                 prefer: str | None = None) -> Path:
    """Run (or resume) the whole pipeline into ``out``; returns the report's path. A zoo model
    is trained on ``data`` (default digits); a model file, or a zoo model given ``weights``, is
    calibrated and verified on ``data`` (default: the offline set for its channels). The int8
    .tflite is bundled for Android into ``app`` when given, else into ``out/android_bundle`` (the
    fp32 one where int8 fails verify, or with ``prefer`` "fp32": :func:`bundled_kind`). Each
    step runs unless the run folder's state holds it, done with the same options."""
    plan = plan_run(model, data, out, train_options, weights, samples, runs, app, calib_data,
                    labels, prefer)
    plan.out.mkdir(parents=True, exist_ok=True)
    state = RunState(plan.out, fresh=fresh)
    if fresh:
        log(f"starting over in {plan.out} (--fresh)")
    reused = {step: state.reuse(step, options, log)
              for step, options in plan.step_options().items()}
    if any(reused.values()):
        log(f"reusing {', '.join(step for step, kept in reused.items() if kept)} from the earlier "
            "run in this folder (same options; --fresh starts over)")
    if not reused["train"]:
        train_step(plan, state, log)
    if not state.done("convert"):
        convert_step(plan, state, log)
    artifacts = [entry["path"] for entry in state.result("convert")]
    if not state.done("verify"):
        verify_step(plan, state, artifacts, log)
    if not state.done("bench"):
        bench_step(plan, state, artifacts, log)
    if not state.done("bundle"):
        bundle_step(plan, state, log)
    return finish_run(plan, state)


class PipelineParityError(Exception):
    """The run completed but some artifact failed verification."""

    def __init__(self, report: Path, failed: list[str], to_diagnose: list[Path] = ()):
        hint = (f"; see where an int8 model loses accuracy with `deploytool diagnose "
                f"{to_diagnose[0]}`" if to_diagnose else "")
        super().__init__(f"parity failed for {', '.join(failed)}; see {report}{hint}")
        self.report = report


