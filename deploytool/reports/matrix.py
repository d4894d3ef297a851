"""The deployability matrix: every zoo model x every artifact kind x every runtime, each cell
verified for real, written as Markdown (docs/compatibility.md)."""

from __future__ import annotations

import time
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import artifact_kinds, target
from deploytool.core.compare import figures_only
from deploytool.core.errors import UserError
from deploytool.models import list_models
from deploytool.models.weights import randomize_batchnorm
from deploytool.reports.matrix_sections import (REFUSED_MARK, RUNTIME_NAMES, count_summary,
                                                 refused_lines, variant_lines, versions_line)
from deploytool.reports.matrix_settings import RANDOM_INPUT_SHAPE, RANDOM_SAMPLES, WIDTH
from deploytool.runtimes.base import artifact_runtimes, runners
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.verification.verify import verify

# (label, target, precision) of every artifact kind the registered targets offer (dynamic range
# adds nothing a runtime would fail on differently), and every runtime that runs artifacts; a
# client fed pixels (MediaPipe Tasks) that declines a file for its own reason gives a cell of
# status "refused", shown apart from the failures
ARTIFACT_KINDS = tuple(kind for kind in artifact_kinds() if kind[2] != "dynamic")
RUNTIMES = tuple(artifact_runtimes())
# int8 cells are converted within this budget (the verify bar for untrained int8 models)
MATRIX_INT8_COSINE = 0.99
# Failure messages that are known limitations of a runtime, with what is known about them.
UPSTREAM = {
    "Lookup table for": "upstream limitation: OpenCV's TFLite importer has no int8 activation "
                             "support (int8 models fail in parseActivation); the int8 ONNX (QDQ) "
                             "form of the same model runs in OpenCV",
    "PLACEHOLDER_FOR_GREATER_OP_CODES": "upstream limitation: OpenCV's TFLite importer reads only "
                                        "built-in op codes below 128 (deprecated_builtin_code), so "
                                        "newer ops such as GELU (150) do not load; the ONNX form of "
                                        "the same model runs in OpenCV",
    "Unknown opcode for INT8 Eltwise": "upstream limitation: OpenCV's TFLite importer has no int8 "
                                       "SUB/MUL with a constant; the int8 ONNX (QDQ) form of the "
                                       "same model runs in OpenCV",
    "EltwiseLayerInt8Impl": "upstream limitation: OpenCV's int8 elementwise layer has no MUL; "
                            "the int8 ONNX (QDQ) form of the same model runs in OpenCV",
    "GemmInt8": "upstream limitation: OpenCV dnn has no int8 Gemm (FULLY_CONNECTED) layer for "
                "TFLite imports; the int8 ONNX (QDQ) form of the same model runs in OpenCV",
    "ReduceInt8": "upstream limitation: OpenCV dnn has no int8 Mean (ReduceInt8) / Gemm layer for "
                  "TFLite imports; the int8 ONNX (QDQ) form of the same model runs in OpenCV",
    "'K_b' is": "upstream: OpenCV's TFLite importer gives a FULLY_CONNECTED whose input is a 4-D "
                "1x1 map (a Flatten of a 1x1 map, which the TFLite converter folds into the FC) "
                "the last axis of its NCHW blob (1) as K (DNN/Gemm: 'K_a == K_b'); the ONNX and "
                ".pb forms of the same model run in OpenCV",
    # generic messages last: a cell takes the first cause that matches
    "Unsupported operator type": "upstream limitation: OpenCV's TFLite importer has no layer for "
                                 "this TFLite op (named in the message; e.g. ELU, TANH, "
                                 "TRANSPOSE_CONV); the ONNX form of the same model runs in OpenCV",
    "Can't create layer": "upstream limitation: OpenCV's TensorFlow importer has no layer for "
                          "this TensorFlow op (named in the message; e.g. Neg, from "
                          "LayerNormalization's frozen moments)",
    "buf.shape() == m.shape()": "upstream: OpenCV 5.0's ONNX importer fails on a Reshape or "
                                "Expand whose target shape the graph computes at run time from a "
                                "tensor's Shape (tf2onnx writes one for a Dense applied to a 4-D "
                                "map, as Tensordot, and inside a LayerNormalization; NEW engine: "
                                "this shape check in forwardGraph; CLASSIC: a segmentation "
                                "fault); the node is named above; minimal reproduction: Conv2D, "
                                "then Dense on its 8x8 map, in ONNX (2026-12-02)",
}
# Under this worst cosine a quantized output has lost its direction: an error, not rounding.
NOT_ROUNDING = 0.5
# A cosine failure of a reduced-precision artifact that every runtime shares is the model's own.
NUMERICAL = ("numerical: the quantized model itself is this far from float (the runtimes agree "
             "with each other); a deep network of random weights accumulates int8 rounding error; "
             "`deploytool diagnose` names the layers, `convert --max-drop/--min-cosine` keeps them "
             "in float")


def source_cells(source, model: str, out_dir: Path, samples: int, calib_samples: int,
                 kinds=ARTIFACT_KINDS, data: str | None = None, causes=lambda cell: [],
                 numerical: str = NUMERICAL, budget=None, timing: dict | None = None,
                 log=lambda message: None) -> list[dict]:
    """Convert ``source`` (a loaded :class:`~deploytool.sources.model_source.ModelSource`, shown as ``model``)
    to every artifact kind in ``kinds`` and verify each on every runtime (on ``data``, default
    the model's own); one dict per (artifact kind, runtime) cell, with status, figures and the
    reason of a failure. ``causes(cell)`` may name known causes of a failed cell; a reduced-
    precision cell failing on cosine is labelled ``numerical``. With a ``budget``
    (:class:`~deploytool.workflows.quantization.budget.Budget`), int8 artifacts are converted within it and the cell
    says how many layers it kept in float. With ``timing`` ({"runs", "warmup"}) each cell also
    gets its batch-1 median latency, measured in the runtime's own process as bench does; every
    cell records its artifact's size, and a TFLite cell its phone-GPU readiness."""
    from deploytool.converters.targets.tflite.gpu_readiness import gpu_readiness

    cells = []
    for label, target_name, precision in kinds:
        options = ConvertOptions(to=target_name, precision=precision, out_dir=out_dir / model,
                                 calib_samples=calib_samples)
        log(f"{model}: {label}")
        try:
            if budget is not None and precision == "int8":
                from deploytool.workflows.quantization.budget import budgeted_convert

                result = budgeted_convert(source, options, budget)
            else:
                result = convert(source, options)
        except UserError as exc:  # the converter itself refused: every runtime cell says why
            cells += [{"model": model, "artifact": label, "runtime": runtime, "status": "fail",
                       "why": f"conversion failed: {exc}"} for runtime in RUNTIMES]
            continue
        path = result.manifest.framework
        report = verify([result.artifact], "all", data=data, samples=samples, timing=timing)
        extra = {"size_bytes": result.manifest.size_bytes}
        if target_name == "tflite":
            extra["gpu"] = gpu_readiness(result.artifact)
        by_backend = {backend: backend_row(rows) for backend, rows in
                      group_rows(report.rows).items()}
        for runtime in RUNTIMES:
            row = by_backend.get(runtime)
            if row is None:
                cells.append({"model": model, "artifact": label, "runtime": runtime, "path": path,
                              "status": "-", "why": f"{RUNTIME_NAMES[runtime]} does not read {target_name} files"})
                continue
            status = "refused" if "refused" in row.failed else \
                "fail" if row.status == "n/a" else row.status
            why = "; ".join(row.failures) or None
            cell = {"model": model, "artifact": label, "runtime": runtime, "status": status,
                    "figures": row.figures, "failed": row.failed, "path": path,
                    # the variant that ran it (OpenCV's engines); a one-engine runtime's is its heading
                    "engine": row.engine if len(runners()[runtime].variants) > 1 else None,
                    "passed_over": row.passed_over or None,
                    "tolerance": report.tolerances.get(result.artifact.name),
                    "in_float": len(result.manifest.layers_in_float),
                    "median_ms": row.median_ms, "file": str(result.artifact), **extra}
            cell["why"] = why
            if why:
                known = upstream_causes(why) + causes(cell)
                if not known and precision != "fp32" and _accuracy_only(row.failed):
                    known.append(_numerical_note(row, by_backend, target(target_name).runtime,
                                                 numerical))
                cell["why"] = f"{why} — {known[0]}" if known else why
            cells.append(cell)
    return cells


def group_rows(rows) -> dict[str, list]:
    """Verify rows by backend (a backend has a row per output of the artifact)."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row.backend, []).append(row)
    return grouped


def backend_row(rows):
    """One backend's rows (one per output) as one row: its own for one output; for several,
    failed when any output failed, each failure named by its output, and the worst figures
    (largest max abs, lowest cosine and agreements) with every output's under ``outputs``."""
    if len(rows) == 1:
        return rows[0]
    from dataclasses import replace

    measured = [row for row in rows if row.figures]
    status = next((s for s in ("fail", "n/a") if any(row.status == s for row in rows)), "pass")
    failures = [f"{row.output}: {failure}" for row in rows for failure in row.failures]
    failed = list(dict.fromkeys(what for row in rows for what in row.failed))
    if measured and len(measured) == len(rows):
        figures = {"max_abs": max(r.figures["max_abs"] for r in measured),
                   "min_cosine": min(r.figures["min_cosine"] for r in measured),
                   "outputs": {r.output: r.figures for r in measured}}
    else:
        figures = None
        failures = list(dict.fromkeys(rows[0].failures)) if not measured else failures
    return replace(rows[0], status=status, output=None, kind=None, figures=figures,
                   failures=failures, failed=failed)


def upstream_causes(why: str) -> list[str]:
    """The known upstream causes whose marker the failure message ``why`` holds."""
    return [note for marker, note in UPSTREAM.items() if marker in why]


def label_known_causes(cells: list[dict], artifacts_dir: Path | None = None) -> list[dict]:
    """Cells computed before a cause was known (cached), with the cause appended to a failure
    that matches a marker and names none yet, and the .tflite layer an OpenCV failure comes from
    where the cell names none (the file the cell records, else, given the folder the artifacts
    were written to, ``artifacts_dir/<model>/<model>_<precision>.tflite``)."""
    from deploytool.workflows.layer_search.opencv_tflite_layers import failing_layer

    kinds = {label: (to, precision) for label, to, precision in ARTIFACT_KINDS}
    for cell in cells:
        why = cell.get("why") or ""
        to, precision = kinds.get(cell["artifact"], (None, None))
        if cell["status"] == "fail" and cell["runtime"] == "opencv" and to == "tflite" and \
                (artifacts_dir is not None or cell.get("file")) and "at layer " not in why and \
                not cell.get("figures"):
            path = Path(cell["file"]) if cell.get("file") else \
                Path(artifacts_dir) / cell["model"] / f"{cell['model']}_{precision}.tflite"
            layer = failing_layer(path, why) if path.exists() else None
            if layer:
                head, _, cause = why.partition(" — ")
                why = cell["why"] = f"{head}; {layer}" + (f" — {cause}" if cause else "")
        if cell["status"] == "fail" and " — " not in why and upstream_causes(why):
            cell["why"] = f"{why} — {upstream_causes(why)[0]}"
    return cells


def _accuracy_only(failed: list[str]) -> bool:
    """Whether every failed criterion (a row's ``failed``) is a figure (cosine, agreements)
    rather than an error."""
    return figures_only(failed)


def _numerical_note(row, rows: dict, primary_name: str, numerical: str) -> str:
    """Why a reduced-precision ``row`` misses its bar on figures alone, judged against the other
    runtimes' rows of the same file (``rows`` by backend; ``primary_name`` the format's own
    runtime): a worst cosine under ``NOT_ROUNDING`` where the format's own runtime is above it
    is no rounding at all; where another runtime passes the same file, this runtime's quantized
    kernels land further from float than that one's (ONNX Runtime's u8s8 kernels saturate on
    CPUs without VNNI, OpenCV's pass the same .onnx); ``numerical`` (the quantized model itself
    is this far) only where no runtime does better."""
    primary = rows.get(primary_name)
    if row is not primary and primary is not None and primary.figures and row.figures and \
            row.figures["min_cosine"] < NOT_ROUNDING <= primary.figures["min_cosine"]:
        return (f"not rounding: a worst cosine of {row.figures['min_cosine']:.2f} means this "
                "runtime computes some layer of the file wrongly")

    def does_better(other) -> bool:
        """Another runtime's row that passes the file, or the format's own runtime unless it
        misses on figures alone and lands as far from float (within 0.05 of cosine)."""
        if other is row or not other.figures:
            return False
        if other.status == "pass":
            return True
        as_far = _accuracy_only(other.failed) and \
            other.figures["min_cosine"] <= row.figures["min_cosine"] + 0.05
        return other is primary and not as_far

    better = next((other for other in rows.values() if does_better(other)), None)
    if better is None:
        return numerical
    verdict = "which passes" if better.status == "pass" else "worst cosine " \
        f"{row.figures['min_cosine']:.4f} against {better.figures['min_cosine']:.4f}"
    return (f"numerical, this runtime: its quantized kernels land further from float than "
            f"{RUNTIME_NAMES[better.backend]}'s on the same file ({verdict})")


def matrix_cells(model: str, input_shape, width: float, out_dir: Path, samples: int,
                 calib_samples: int, log=lambda message: None) -> list[dict]:
    """Convert zoo ``model`` (random weights, randomised BatchNorm statistics) to every artifact
    kind and verify each on every runtime: :func:`source_cells`."""
    from deploytool.workflows.quantization.budget import Budget

    source = load_source(model, input_shape=input_shape, num_classes=10, width=width)
    randomize_batchnorm(source.model, seed=0)
    return source_cells(source, model, out_dir, samples, calib_samples, log=log,
                        budget=Budget(min_cosine=MATRIX_INT8_COSINE))


def _cell_text(cell: dict) -> str:
    if cell["status"] == "-":
        return "–"
    if cell["status"] == "refused":
        return REFUSED_MARK
    figures = cell.get("figures")
    if cell["status"] == "pass":
        text = f"✅ {figures['max_abs']:.0e}" if cell["artifact"].endswith("fp32") \
            else f"✅ cos {figures['min_cosine']:.4f}"
        if cell.get("median_ms") is not None:
            text += f" · {cell['median_ms']:.2g} ms"
        notes = [cell["engine"]] if cell.get("engine") else []
        if cell.get("in_float"):
            notes.append(f"{cell['in_float']} in float")
        return text + (f" ({', '.join(notes)})" if notes else "")
    return "❌ see below"


def render_tables(cells: list[dict], kinds: list[str], row_label: str = "model") -> list[str]:
    """One Markdown table per runtime (rows: models; columns: artifact kinds), then every
    failure with its reason and the count of passing cells."""
    models = list(dict.fromkeys(c["model"] for c in cells))
    lookup = {(c["model"], c["artifact"], c["runtime"]): c for c in cells}
    lines = []
    for runtime in RUNTIMES:
        lines += [f"## {RUNTIME_NAMES[runtime]}", "", f"| {row_label} | " + " | ".join(kinds) + " |",
                  "|---|" + "---|" * len(kinds)]
        for model in models:
            row = [_cell_text(lookup[(model, kind, runtime)]) if (model, kind, runtime) in lookup
                   else "–" for kind in kinds]
            lines.append(f"| {model} | " + " | ".join(row) + " |")
        lines.append("")
    failures = [c for c in cells if c["status"] == "fail"]
    lines += ["## Failures and their causes", ""]
    if not failures:
        lines.append("None.")
    for cell in failures:
        lines.append(f"- **{cell['model']} · {cell['artifact']} · {RUNTIME_NAMES[cell['runtime']]}**: "
                     f"{cell['why']}")
    lines += ["", *refused_lines(cells), *variant_lines(cells), f"{count_summary(cells)}.", ""]
    return lines


def render_markdown(cells: list[dict], input_shape, width: float, samples: int,
                    seconds: float) -> str:
    """The matrix as Markdown: one table per runtime, then every failure with its reason."""
    lines = [
        "# Deployability matrix",
        "",
        "Generated by `deploytool matrix` (do not edit by hand). Every zoo model is built at "
        f"{'x'.join(map(str, input_shape))} with width {width:g} and 10 classes, given random "
        "weights with randomised BatchNorm statistics, converted by `deploytool convert` and "
        f"verified by `deploytool verify` on {samples} held-out photos against the Keras "
        "reference. fp32 cells pass at max abs error ≤ 1e-5 on probabilities (or 10x the Keras "
        "reference's own float32 round-off, where that is larger); fp16 and int8 "
        "cells are judged by worst-sample cosine similarity (≥ 0.999 / ≥ 0.99): with random "
        "weights, top-1 decisions are tie-breaks. int8 artifacts are converted with the "
        "accuracy budget `--min-cosine 0.99` (plain int8 where that holds, else the costliest "
        "layers kept in float). A ✅ shows the max abs error (fp32) or the cosine (fp16/int8), "
        "for OpenCV the engine that ran it, and how many layers a budgeted int8 model keeps in "
        "float.",
        "",
        versions_line(seconds),
        "",
    ]
    lines += render_tables(cells, [label for label, _, _ in ARTIFACT_KINDS])
    return "\n".join(lines)


def random_model_cells(model: str, input_shape, width: float, out_dir: str, samples: int,
                       calib_samples: int) -> list[dict]:
    """:func:`matrix_cells`, as a cell of :mod:`deploytool.cluster` runs it (in a child process),
    with known causes named where the files are."""
    return label_known_causes(matrix_cells(model, tuple(input_shape), width, Path(out_dir), samples,
                                           calib_samples, log=lambda message: print(message, flush=True)))


def failed_model_cells(model: str, reason: str, kinds=ARTIFACT_KINDS) -> list[dict]:
    """A model whose cell did not finish: every artifact kind x runtime fails with ``reason``."""
    return [{"model": model, "artifact": label, "runtime": runtime, "status": "fail",
             "why": f"the model's cell did not finish ({reason})"}
            for label, _, _ in kinds for runtime in RUNTIMES]


def build_matrix(models=None, input_shape=RANDOM_INPUT_SHAPE, width: float = WIDTH,
                 out_dir: Path = Path("artifacts/matrix"), samples: int = RANDOM_SAMPLES,
                 calib_samples: int = 100, log=lambda message: None, address: str | None = None,
                 serial: bool = False, fresh: bool = False) -> tuple[list[dict], str]:
    """Cells and Markdown of the matrix for ``models`` (default: the whole zoo), a cell of
    :mod:`deploytool.cluster` per model (on Ray, or ``serial``), kept in ``out_dir/random``."""
    from deploytool.cluster.cells import Cell
    from deploytool.cluster.run import run_cells

    started = time.perf_counter()
    names = list(models or list_models())
    unknown = [name for name in names if name not in list_models()]
    if unknown:
        raise UserError(f"not a zoo model: {', '.join(unknown)} (see `deploytool models`)")
    folder = Path(out_dir).resolve() / "random"
    jobs = [Cell(model, f"{__name__}:random_model_cells",
                 (model, list(input_shape), width, str(folder), samples, calib_samples))
            for model in names]
    results = run_cells(jobs, folder, address, serial, fresh, log)
    cells = []
    for model, result in results.items():
        cells += result.value if result.ok else failed_model_cells(model, result.error)
    return cells, render_markdown(cells, input_shape, width, samples, time.perf_counter() - started)
