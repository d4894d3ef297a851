"""The deployability matrix on trained models: each zoo model trained briefly on the offline
digits (kept in a run folder, so a rerun reuses it), converted to every artifact kind and
verified on every runtime, each cell with its top-1 accuracy and change from float, batch-1
latency, size and, for TFLite, phone-GPU readiness. Written as Markdown, JSON and a heatmap;
each model's cells are cached, so an interrupted run resumes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from deploytool.converters.targets.tflite.gpu_readiness import describe
from deploytool.core.compare import CRITERION_PREFIXES, TOLERANCES, judge, tolerance_for
from deploytool.core.errors import UserError
from deploytool.core.fileio import write_bytes, write_json
from deploytool.models import list_models
from deploytool.reports.matrix import (ARTIFACT_KINDS, RUNTIMES, failed_model_cells,
                                       label_known_causes, source_cells)
from deploytool.reports.matrix_sections import (REFUSED_MARK, RUNTIME_NAMES, count_summary,
                                                refused_lines, variant_lines, versions_line)
from deploytool.reports.matrix_settings import BATCH_SIZE, EPOCHS, PATIENCE, SAMPLES, WIDTH
from deploytool.sources.model_source import RUN_MODEL, load_source
from deploytool.workflows.quantization.budget import Budget
from deploytool.workflows.training.train import train
from deploytool.workflows.training.train_options import TrainOptions

INT8_MAX_DROP = 1.0  # top-1 points an int8 cell may lose against float
TIMING = {"runs": 20, "warmup": 3}
CELL_TIMEOUT = 3 * 3600  # seconds a model's row may take (a 19-model run took 186 min in all)
NUMERICAL = ("numerical: the quantized model itself is this far from float (the runtimes agree "
             "with each other); `deploytool diagnose` names the layers")
MIN_TOP1_AGREEMENT = 0.9  # verify's int8 bar on decisions


def judge_int8_by_accuracy(cell: dict) -> dict:
    """An int8 cell that ran, judged as a trained model's user judges it: pass when it keeps top-1
    within ``INT8_MAX_DROP`` points of float and agrees with float on at least 90 % of the
    decisions. Worst-sample cosine stays in the figures but is not a criterion here: on a trained,
    confident model one image near a decision boundary sets it (bn_inception's int8 .tflite: worst
    cosine 0.85 at -0.3 points). Other failures (errors, unreadable files) are left as they are."""
    figures = cell.get("figures")
    if not cell["artifact"].endswith("int8") or not figures or cell["status"] not in ("pass", "fail") \
            or accuracy_change(cell) is None:
        return cell
    previous = cell.get("why") or ""
    cause = previous.split(" — ", 1)[1] if " — " in previous else NUMERICAL
    failures = []
    if accuracy_change(cell) < -INT8_MAX_DROP - 1e-9:
        failures.append(f"top-1 {accuracy_change(cell):+.1f} points against float "
                        f"(budget {INT8_MAX_DROP:g})")
    if figures["top1_agreement"] < MIN_TOP1_AGREEMENT:
        failures.append(f"top-1 agreement {figures['top1_agreement']:.3f} < {MIN_TOP1_AGREEMENT}")
    cell["status"] = "fail" if failures else "pass"
    cell["why"] = f"{'; '.join(failures)} — {cause}" if failures else None
    return cell


def judge_by_current_bars(cell: dict) -> dict:
    """A cached reduced-precision cell (other than int8, which has its budget) judged again by
    verify's current bars for a trained model, so a page rendered from cells of an earlier run
    says what verify says today. Its other notes (the layer where OpenCV diverges, the cause)
    are kept; errors and unreadable files are left as they are."""
    figures = cell.get("figures")
    precision = cell["artifact"].rsplit(" ", 1)[-1]
    if precision not in TOLERANCES or precision in ("fp32", "int8") or not figures or \
            cell["status"] not in ("pass", "fail"):
        return cell
    failures = judge(figures, tolerance_for(precision, trained=True))
    head, _, cause = (cell.get("why") or "").partition(" — ")
    notes = [part for part in head.split("; ") if part and not part.startswith(CRITERION_PREFIXES)]
    cell["status"] = "fail" if failures else "pass"
    cell["why"] = f"{'; '.join(failures + notes)} — {cause or NUMERICAL}" if failures else None
    return cell


def model_cells(model: str, work: str, epochs: int = EPOCHS, width: float = WIDTH,
                samples: int = SAMPLES, calib_samples: int = 100) -> dict:
    """``{"seconds", "cells"}`` of zoo ``model``: trained on digits (once, in WORK/runs), then
    every artifact kind on every runtime (:func:`~deploytool.reports.matrix.source_cells`), int8 within
    a budget of ``INT8_MAX_DROP`` top-1 points and ``MIN_TOP1_AGREEMENT`` agreement with float;
    known causes are named here, where the files are. The first step of a matrix cell (its
    timing step is :func:`timed_model_cells`), run in a child process by :mod:`deploytool.cluster`."""
    started = time.perf_counter()
    work = Path(work)
    run = work / "runs" / model
    log = lambda message: print(message, flush=True)  # noqa: E731 - the child's progress
    if not (run / RUN_MODEL).exists():
        if run.exists():  # a training cut short: start it again
            shutil.rmtree(run)
        log(f"{model}: training on digits (up to {epochs} epochs, width {width:g})")
        train(model, "digits", run, training_options(epochs, width))
    cells = source_cells(load_source(str(run)), model, work / "artifacts", samples, calib_samples,
                         data="digits", numerical=NUMERICAL,
                         budget=Budget(max_drop=INT8_MAX_DROP, min_agreement=MIN_TOP1_AGREEMENT),
                         log=log)
    return {"seconds": time.perf_counter() - started, "cells": label_known_causes(cells)}


def timed_model_cells(value: dict, *settings) -> dict:
    """A matrix cell's timing step: :func:`model_cells`' value with every artifact that ran
    timed on its runtime (batch 1, ``TIMING``), on the node that made the files, alone there."""
    from deploytool.reports.cell_timing import timed_cells

    started = time.perf_counter()
    cells = timed_cells(value["cells"], TIMING)
    return {"seconds": value["seconds"] + time.perf_counter() - started, "cells": cells}


def training_options(epochs: int, width: float) -> TrainOptions:
    """How every model of the matrix is trained: up to ``epochs`` epochs of batches of
    ``BATCH_SIZE``, stopped after ``PATIENCE`` epochs without a better validation accuracy, the
    best epoch's weights kept."""
    return TrainOptions(epochs=epochs, width=width, batch_size=BATCH_SIZE, early_stopping=PATIENCE)


def accuracy_change(cell: dict) -> float | None:
    """The cell's top-1 accuracy minus the float model's, in points (None without figures)."""
    figures = cell.get("figures") or {}
    if figures.get("accuracy") is None or figures.get("accuracy_reference") is None:
        return None
    return 100 * (figures["accuracy"] - figures["accuracy_reference"])


def _latency(cell: dict) -> str:
    value = cell.get("median_ms")
    if value is None:
        return ""
    return f" · {value:.2g} ms" if value < 10 else f" · {value:.0f} ms"


def cell_text(cell: dict) -> str:
    """✅/❌, accuracy and its change from float with the change's paired 95 % interval in
    brackets, latency (and the layers a budget kept in float)."""
    if cell["status"] == "-":
        return "–"
    if cell["status"] == "refused":
        return REFUSED_MARK
    change = accuracy_change(cell)
    if change is None:
        return "❌ see below"
    mark = "✅" if cell["status"] == "pass" else "❌"
    interval = cell["figures"].get("accuracy_change_interval")
    sure = f" [{100 * interval[0]:+.1f}, {100 * interval[1]:+.1f}]" if interval else ""
    text = f"{mark} {100 * cell['figures']['accuracy']:.1f} ({change:+.1f}{sure}){_latency(cell)}"
    notes = [cell["engine"]] if cell.get("engine") else []
    if cell.get("in_float"):
        notes.append(f"{cell['in_float']} in float")
    return text + (f" ({', '.join(notes)})" if notes else "")


def _size_text(cells: list[dict]) -> str:
    """Size of one artifact kind of one model, and the phone-GPU verdict of a TFLite file."""
    cell = next((c for c in cells if c.get("size_bytes") is not None), None)
    if cell is None:
        return "not converted"
    text = f"{cell['size_bytes'] / 1e6:.2f} MB"
    if "gpu" in cell:
        text += " · GPU " + ("✅" if cell["gpu"]["ready"] else f"❌ {describe(cell['gpu'])[4:]}")
    return text


def render_markdown(results: dict[str, dict], epochs: int, width: float, samples: int,
                    picture: str = "compatibility.png", wall_seconds: float | None = None,
                    artifacts_dir: Path | None = None) -> str:
    """The page: one accuracy/latency table per runtime, a size and phone-GPU table, then every
    failure with its cause, the summary counts and the largest int8 accuracy drop."""
    cells = label_known_causes([judge_by_current_bars(judge_int8_by_accuracy(cell))
                                for result in results.values() for cell in result["cells"]],
                               artifacts_dir)
    seconds = sum(result["seconds"] for result in results.values())
    kinds = [label for label, _, _ in ARTIFACT_KINDS]
    models = list(results)
    lookup = {(c["model"], c["artifact"], c["runtime"]): c for c in cells}
    float_accuracy = {}
    for cell in cells:
        reference = (cell.get("figures") or {}).get("accuracy_reference")
        if reference is not None:
            float_accuracy.setdefault(cell["model"], reference)
    lines = [
        "# Deployability matrix",
        "",
        "Generated by `deploytool matrix` (do not edit by hand). Every zoo model is trained by "
        f"`deploytool train MODEL --data digits --epochs {epochs} --batch-size {BATCH_SIZE} "
        f"--early-stopping {PATIENCE} --width {width:g}` (28x28x1, the offline digits that ship "
        "with scikit-learn; the best epoch's weights are kept), then converted by `deploytool convert` and "
        f"verified by `deploytool verify` on all {samples} held-out digits. A cell shows the "
        "artifact's top-1 accuracy in % on that runtime, its change from the float Keras model in "
        "points with the change's paired 95 % interval in brackets (Newcombe's: both judged on the "
        "same images), and the median latency of one image (2 threads, measured in the runtime's own "
        "process as `deploytool bench` does). Pass/fail is verify's: fp32 max abs ≤ 1e-5 on "
        "probabilities (or 10x the reference's own float32 round-off), fp16 top-1 agreement "
        "≥ 0.98 (its worst-sample cosine shown in the JSON, not judged: on a trained model one "
        "uncertain image sets it). int8 artifacts are converted with the accuracy budget "
        f"`--max-drop {INT8_MAX_DROP:g} --min-agreement {MIN_TOP1_AGREEMENT:g}` (plain int8 where "
        "that holds, else another calibration, else the costliest layers kept in float) and pass "
        f"when they keep top-1 within {INT8_MAX_DROP:g} point of float "
        "and agree with it on ≥ 90 % of the images; their worst-sample cosine is in the JSON but "
        "not judged here, since on a trained, confident model one image near a decision boundary "
        "sets it. `deploytool matrix --random` gives the quicker random-weight parity page.",
        "",
        "These cells are 28x28 at width 0.25, where a call is mostly start-up overhead: speed at "
        "the size people deploy (every zoo model at 224x224x3, full width, 1 and 2 threads) is "
        "on [deployment-size.md](deployment-size.md). The int8 cells here are converted within "
        "the budget, which may keep layers in float; the plain int8 ONNX of every model, in "
        "OpenCV against ONNX Runtime, is on [opencv-int8-onnx.md](opencv-int8-onnx.md).",
        "",
        versions_line(wall_seconds) + ("" if wall_seconds is not None else
                                       f" Cells of earlier runs reused; each model's own compute "
                                       f"time adds up to {seconds / 60:.0f} min."),
        "",
        f"![accuracy change per cell]({picture})",
        "",
    ]
    for runtime in RUNTIMES:
        lines += [f"## {RUNTIME_NAMES[runtime]}", "",
                  "| model (float top-1) | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for model in models:
            row = [cell_text(lookup[(model, kind, runtime)]) if (model, kind, runtime) in lookup
                   else "–" for kind in kinds]
            accuracy = float_accuracy.get(model)
            label = f"{model} ({100 * accuracy:.1f})" if accuracy is not None else model
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        lines.append("")
    lines += ["## Size and phone GPU", "",
              "Artifact size, and for TFLite whether every op would run on LiteRT's GPU delegate "
              "(`deploytool inspect` shows the same check; LiteRT's own analyzer in this build "
              "reports every model compatible, so the delegate's rules are applied to the file).",
              "", "| model | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for model in models:
        row = [_size_text([c for c in cells if c["model"] == model and c["artifact"] == kind])
               for kind in kinds]
        lines.append(f"| {model} | " + " | ".join(row) + " |")
    lines += ["", "## Failures and their causes", ""]
    failures = [c for c in cells if c["status"] == "fail"]
    lines += [f"- **{c['model']} · {c['artifact']} · {RUNTIME_NAMES[c['runtime']]}**: {c['why']}"
              for c in failures] or ["None."]
    lines += ["", *refused_lines(cells), *variant_lines(cells), f"{count_summary(cells)}.", "",
              int8_summary(cells), ""]
    return "\n".join(lines)


def int8_summary(cells: list[dict]) -> str:
    """The largest top-1 loss of an int8 cell, and every int8 cell losing more than the budget."""
    measured = [(accuracy_change(c), c) for c in cells
                if c["artifact"].endswith("int8") and accuracy_change(c) is not None]
    if not measured:
        return "No int8 cell produced figures."
    worst_change, worst = min(measured, key=lambda pair: pair[0])
    over = [f"{c['model']} {c['artifact']} on {RUNTIME_NAMES[c['runtime']]} ({change:+.1f})"
            for change, c in measured if change < -INT8_MAX_DROP - 1e-9]
    text = (f"int8: {len(measured)} cells measured; the largest top-1 change from float is "
            f"{worst_change:+.1f} points ({worst['model']} {worst['artifact']} on "
            f"{RUNTIME_NAMES[worst['runtime']]}).")
    if over:
        text += (f" Losing more than {INT8_MAX_DROP:g} point: {', '.join(over)}; "
                 "`deploytool diagnose ARTIFACT` names the layers.")
    else:
        text += f" None loses more than {INT8_MAX_DROP:g} point."
    return text


def plot_heatmap(results: dict[str, dict], path) -> None:
    """Models x (artifact kind, runtime) cells coloured by top-1 change from float in points
    (green: kept, red: 3 or more lost); a cell without figures is marked x, one no runtime reads is blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import Normalize

    cells = [cell for result in results.values() for cell in result["cells"]]
    columns = [(kind, runtime) for runtime in RUNTIMES for kind, _, _ in ARTIFACT_KINDS
               if any(c["artifact"] == kind and c["runtime"] == runtime and c["status"] != "-"
                      for c in cells)]
    models = list(results)
    lookup = {(c["model"], c["artifact"], c["runtime"]): c for c in cells}
    values = np.full((len(models), len(columns)), np.nan)
    figure, axis = plt.subplots(figsize=(0.62 * len(columns) + 2.5, 0.34 * len(models) + 2.2))
    for i, model in enumerate(models):
        for j, (kind, runtime) in enumerate(columns):
            cell = lookup.get((model, kind, runtime))
            change = accuracy_change(cell) if cell else None
            if change is not None:
                values[i, j] = change
                dark = change > -0.5 or change < -2.5  # deep green or deep red
                axis.text(j, i, f"{change:+.1f}", ha="center", va="center", fontsize=6,
                          color="white" if dark else "black")
            if cell is not None and cell["status"] == "fail":
                axis.text(j, i, "✗" if change is None else "", ha="center", va="center",
                          fontsize=9, color="black")
                axis.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                             edgecolor="black", linewidth=1.2))
    # green: nothing lost (a gain is clipped to green), red: 3 points or more lost
    image = axis.imshow(values, cmap="RdYlGn", norm=Normalize(vmin=-3, vmax=0, clip=True),
                        aspect="auto")
    axis.set_xticks(range(len(columns)),
                    [f"{kind}\n{runtime}" for kind, runtime in columns],
                    rotation=60, ha="right", fontsize=7)
    axis.set_yticks(range(len(models)), models, fontsize=8)
    figure.colorbar(image, ax=axis, label="top-1 change (points)", shrink=0.8)
    axis.set_title("deploytool matrix: trained on digits (boxed: verify fails)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def matrix_cell(model: str, work: Path, epochs: int = EPOCHS, width: float = WIDTH,
                samples: int = SAMPLES, timeout: float | None = CELL_TIMEOUT):
    """The :class:`~deploytool.cluster.cells.Cell` of one zoo model's row: :func:`model_cells`, then
    :func:`timed_model_cells` with the node to itself."""
    from deploytool.cluster.cells import Cell

    return Cell(model, f"{__name__}:model_cells", (model, str(Path(work).resolve()), epochs, width,
                                                  samples), timeout=timeout,
                timing=f"{__name__}:timed_model_cells")


def build_trained_matrix(models=None, work: Path = Path("artifacts/matrix"), epochs: int = EPOCHS,
                         width: float = WIDTH, samples: int = SAMPLES, fresh: bool = False,
                         log=lambda message: None, progress=lambda done, total, label: None,
                         address: str | None = None, serial: bool = False,
                         timeout: float | None = CELL_TIMEOUT) -> tuple[dict, int]:
    """Every model's cells, keyed by model: each model one cell of :mod:`deploytool.cluster`
    (on Ray: a local instance, or the cluster at ``address``; with ``serial``, one after another
    here), kept in ``work/cells`` by its inputs (``fresh`` forgets them), and how many models'
    cells were kept from an earlier run. A model whose cell failed has every cell saying why."""
    from deploytool.cluster.run import run_cells

    names = list(models or list_models())
    unknown = [name for name in names if name not in list_models()]
    if unknown:
        raise UserError(f"not a zoo model: {', '.join(unknown)} (see `deploytool models`)")
    cells = [matrix_cell(model, work, epochs, width, samples, timeout) for model in names]
    results = run_cells(cells, work, address, serial, fresh, log, progress)
    return ({model: result.value if result.ok else
             {"seconds": 0.0, "cells": failed_model_cells(model, result.error)}
             for model, result in results.items()},
            sum(result.cached for result in results.values()))


def write_outputs(results: dict[str, dict], out_file, epochs: int, width: float, samples: int,
                  wall_seconds: float | None = None, artifacts_dir: Path | None = None) -> list[Path]:
    """The Markdown page at ``out_file``, the same cells as JSON and the heatmap as PNG beside it
    (same stem); returns the three paths. ``wall_seconds``: how long the run took, when it
    computed every cell itself."""
    from deploytool.core.manifest import tool_versions

    out_file = Path(out_file)
    json_path, png_path = out_file.with_suffix(".json"), out_file.with_suffix(".png")
    write_bytes(out_file, render_markdown(results, epochs, width, samples, png_path.name,
                                          wall_seconds, artifacts_dir).encode())
    write_json(json_path, {"settings": {"epochs": epochs, "width": width, "samples": samples,
                                        "int8_max_drop": INT8_MAX_DROP, "timing": TIMING},
                           "versions": tool_versions(),
                           "seconds": sum(r["seconds"] for r in results.values()),
                           "wall_seconds": wall_seconds,
                           "models": results})
    temporary = png_path.with_name(png_path.name + ".partial.png")
    plot_heatmap(results, temporary)
    temporary.replace(png_path)
    return [out_file, json_path, png_path]
