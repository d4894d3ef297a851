"""`deploytool run`: train (or take a model) -> convert to every artifact -> verify on every runtime
-> bench -> bundle for Android -> report, in one run folder. Each finished step is recorded in
``state.json`` and skipped when the command is run again, so an interrupted run resumes where it
stopped."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from converters.targets import targets

from .bench import bench, plot_latency
from .bundle import app_bundle_folder, bundle
from .convert import ConvertOptions, convert
from .fileio import write_bytes, write_json
from .sources import RUN_MODEL, load_source
from .train import TrainOptions, train
from .verify import verify

STEPS = ("train", "convert", "verify", "bench", "bundle", "report")
BUNDLED = ("tflite", "int8")  # the artifact the Android app gets


def pipeline_artifacts() -> list[tuple[str, str]]:
    """(target, quantization) of every artifact a run writes: each registered target in float32
    and, where it offers it, full int8."""
    return [(name, quantization) for name, chosen in targets().items()
            for quantization in ("none", "int8")
            if ("fp32" if quantization == "none" else quantization) in chosen.precisions]


class RunState:
    """Which steps of a run folder are done, persisted in ``state.json``."""

    def __init__(self, folder: Path):
        self.path = folder / "state.json"
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {"done": {}}

    def done(self, step: str) -> bool:
        """Whether ``step`` finished in an earlier invocation."""
        return step in self.data["done"]

    def finish(self, step: str, result) -> None:
        """Record ``step`` as finished with its ``result``."""
        self.data["done"][step] = result
        write_json(self.path, self.data)

    def result(self, step: str):
        """What ``step`` recorded."""
        return self.data["done"][step]


def plot_parity(rows: list[dict], path: Path) -> None:
    """Worst-sample cosine and max abs error per artifact and runtime, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [row for row in rows if row["figures"]]
    labels = [f"{row['artifact']}\n{row['backend']}" for row in measured]
    figure, (cos_axis, abs_axis) = plt.subplots(1, 2, figsize=(11, 0.5 * len(measured) + 1.5),
                                                sharey=True)
    colours = ["tab:green" if row["status"] == "pass" else "tab:red" for row in measured]
    cos_axis.barh(labels, [1 - row["figures"]["min_cosine"] + 1e-9 for row in measured], color=colours)
    cos_axis.set(xscale="log", xlabel="1 - worst cosine (lower is better)")
    abs_axis.barh(labels, [row["figures"]["max_abs"] + 1e-12 for row in measured], color=colours)
    abs_axis.set(xscale="log", xlabel="max abs error on probabilities")
    cos_axis.invert_yaxis()
    for axis in (cos_axis, abs_axis):
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle("parity with the Keras reference (green: pass)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def render_report(folder: Path, state: RunState) -> str:
    """The run's Markdown report: training, artifacts, parity and latency tables, and plots."""
    lines = [f"# deploytool run: {folder.name}", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    training = state.result("train")
    if training.get("test_accuracy") is not None:
        lines += ["## Training", "", f"`{training['model']}` on `{training['data']}`: test accuracy "
                  f"{training['test_accuracy']:.4f} after {len(training['epochs'])} epochs, "
                  f"{training['wall_seconds']:.0f} s, {training['images_per_second']:.0f} images/s.",
                  "", f"![training curves]({training['model']}/training_curves.png)", ""]
    lines += ["## Artifacts", "", "| artifact | size | sha256 | conversion |", "|---|---:|---|---:|"]
    for entry in state.result("convert"):
        lines.append(f"| {entry['file']} | {entry['size_bytes'] / 1e6:.2f} MB | `{entry['sha256'][:16]}…` "
                     f"| {entry['conversion_seconds']:.1f} s |")
    lines += ["", "## Parity with the Keras reference", "",
              "| artifact | runtime | result | max abs | worst cosine | top-1 agreement | accuracy | why |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    for row in state.result("verify")["rows"]:
        f = row["figures"] or {}
        figures = (f"{f['max_abs']:.2e} | {f['min_cosine']:.6f} | {f['top1_agreement']:.3f}"
                   if f else "- | - | -")
        accuracy = f"{f['accuracy']:.4f}" if "accuracy" in f else "-"
        lines.append(f"| {row['artifact']} | {row['backend']} | {row['status']} | {figures} | "
                     f"{accuracy} | {'; '.join(row['failures']) or '-'} |")
    lines += ["", "![parity](parity.png)", "", "## Latency (2 threads, batch 1)", "",
              "| artifact | runtime | size | median | p90 | images/s |", "|---|---|---:|---:|---:|---:|"]
    for row in state.result("bench"):
        if row["status"] == "ok":
            lines.append(f"| {row['artifact']} | {row['backend']} | {row['size_bytes'] / 1e6:.2f} MB | "
                         f"{row['median_ms']:.2f} ms | {row['p90_ms']:.2f} ms | "
                         f"{row['images_per_second']:.0f} |")
        else:
            lines.append(f"| {row['artifact']} | {row['backend']} | {row['size_bytes'] / 1e6:.2f} MB | "
                         f"{row['error']} | | |")
    lines += ["", "![latency](latency.png)", "", "## Android bundle", ""]
    bundled = state.result("bundle")
    if bundled.get("skipped"):
        lines += [f"Not bundled: {bundled['skipped']}.", ""]
    else:
        samples = ", ".join(s["expected_top1"] for s in bundled["samples"])
        lines += [f"`{bundled['artifact']}` with its labels, preprocessing record and "
                  f"{len(bundled['samples'])} golden samples (expected top-1: {samples}) is in "
                  f"`{bundled['destination']}` ({bundled['size_bytes'] / 1e6:.2f} MB). The app's "
                  f"self-test checks the phone against them (max abs {bundled['tolerance']:.3g}).", ""]
        if not bundled["in_app"]:
            lines += ["Put it into the Android demo app with "
                      f"`deploytool bundle {bundled['artifact']} --app android_demo`, or copy the "
                      "folder to `android_demo/app/src/main/assets/bundle`.", ""]
    return "\n".join(lines)


def summary_rows(folder) -> list[dict]:
    """One row per artifact and runtime of a finished run folder, as Ultralytics' benchmark
    prints them: artifact, runtime, pass/fail, top-1 accuracy (labelled data) and batch-1
    median latency from the bench step."""
    state = RunState(Path(folder))
    latency = {(row["artifact"], row["backend"]): row["median_ms"]
               for row in state.result("bench") if row["status"] == "ok"}
    verified = state.result("verify")["rows"]
    reference_accuracy = next((row["figures"]["accuracy_reference"] for row in verified
                               if (row["figures"] or {}).get("accuracy_reference") is not None), None)
    rows = [{"artifact": row["artifact"], "runtime": "keras", "status": "reference",
             "accuracy": reference_accuracy, "median_ms": row["median_ms"]}
            for row in state.result("bench") if row["backend"] == "keras" and row["status"] == "ok"]
    for row in verified:
        if row["status"] == "n/a":
            continue
        figures = row["figures"] or {}
        rows.append({"artifact": row["artifact"], "runtime": row["backend"], "status": row["status"],
                     "accuracy": figures.get("accuracy"),
                     "median_ms": latency.get((row["artifact"], row["backend"]))})
    return rows


def bundle_step(artifact: str, out: Path, app) -> dict:
    """Bundle ``artifact`` into ``app`` (else into the run folder); a model without labels is
    recorded as skipped, with the reason."""
    from .verify import manifest_of

    if not manifest_of(Path(artifact)).labels:
        return {"skipped": "the model has no labels (it was not trained here); use "
                           "`deploytool bundle ARTIFACT --labels FILE`"}
    destination = app_bundle_folder(app) if app else out / "android_bundle"
    report = bundle(artifact, destination)
    return {**asdict(report), "size_bytes": report.size_bytes, "in_app": bool(app)}


def run_pipeline(model: str, data: str, out, train_options: TrainOptions, weights=None,
                 samples: int = 64, runs: int = 20, app=None, log=lambda message: None) -> Path:
    """Run (or resume) the whole pipeline into ``out``; returns the report's path. The int8
    .tflite is bundled for Android into ``app`` when given, else into ``out/android_bundle``."""
    from models import list_models

    out = Path(out)
    if app:
        app_bundle_folder(app)  # refuse a wrong folder before hours of work
    if model not in list_models() and not Path(model).exists():
        load_source(model)  # raises the right one-line error
    train_options.check()
    out.mkdir(parents=True, exist_ok=True)
    state = RunState(out)
    run_folder = out / Path(model).name  # its name becomes the artifacts' stem

    if not state.done("train"):
        if weights or model not in list_models():
            log("taking the given model instead of training")
            state.finish("train", {"model": model, "data": data, "test_accuracy": None})
        else:
            log(f"training {model} on {data}")
            if run_folder.exists():
                shutil.rmtree(run_folder)
            state.finish("train", train(model, data, run_folder, train_options))
    source_spec = str(run_folder) if (run_folder / RUN_MODEL).exists() else model

    if not state.done("convert"):
        # a run folder records its preprocessing; a model file of the user's gets what was asked
        source = load_source(source_spec, weights=weights, preprocess=train_options.preprocess)
        entries = []
        for to, quantization in pipeline_artifacts():
            log(f"converting to {to} {quantization if quantization != 'none' else 'fp32'}")
            result = convert(source, ConvertOptions(to=to, quantization=quantization,
                                                    out_dir=out / "artifacts"))
            entries.append({"path": str(result.artifact), "file": result.artifact.name,
                            "size_bytes": result.manifest["artifact"]["size_bytes"],
                            "sha256": result.manifest["artifact"]["sha256"],
                            "conversion_seconds": result.manifest["conversion_seconds"]})
        state.finish("convert", entries)
    artifacts = [entry["path"] for entry in state.result("convert")]

    if not state.done("verify"):
        log("verifying on every runtime")
        report = verify(artifacts, "all", data=None, samples=samples)
        state.finish("verify", report.as_dict())
        plot_parity(report.as_dict()["rows"], out / "parity.png")

    if not state.done("bench"):
        log("benchmarking")
        rows = bench(artifacts, "all", threads=2, batch=1, runs=runs, warmup=3)
        plot_latency(rows, out / "latency.png")
        state.finish("bench", [asdict(row) for row in rows])

    if not state.done("bundle"):
        log("bundling the int8 .tflite for Android")
        entry = next(e for e, kind in zip(state.result("convert"), pipeline_artifacts())
                     if kind == BUNDLED)
        state.finish("bundle", bundle_step(entry["path"], out, app))

    report_path = out / "report.md"
    write_bytes(report_path, render_report(out, state).encode())
    state.finish("report", str(report_path))
    if not state.result("verify")["passed"]:
        from .diagnose import needs_diagnosis

        rows = [r for r in state.result("verify")["rows"] if r["status"] == "fail"]
        failed = [f"{r['artifact']} on {r['backend']}" for r in rows]
        quantized = sorted({r["artifact"] for r in rows if needs_diagnosis(r["precision"], r["failures"])})
        raise PipelineParityError(report_path, failed, [out / "artifacts" / name for name in quantized])
    return report_path


class PipelineParityError(Exception):
    """The run completed but some artifact failed verification."""

    def __init__(self, report: Path, failed: list[str], to_diagnose: list[Path] = ()):
        hint = (f"; see where an int8 model loses accuracy with `deploytool diagnose "
                f"{to_diagnose[0]}`" if to_diagnose else "")
        super().__init__(f"parity failed for {', '.join(failed)}; see {report}{hint}")
        self.report = report


