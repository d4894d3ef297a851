"""The int8 budget on the keras.applications families of docs/own-models.md: for each family and
runtime (LiteRT .tflite, ONNX Runtime .onnx), `deploytool optimize FILE --runtime R --min-cosine
0.99` -- the budget search to its end (every ranked layer in float if need be) and the fastest
candidate that meets the budget, float forms included.

    .venv/bin/python benchmarks/own_models_budget.py [--families MobileNetV2,ResNet50] [--runtimes tflite]

Files: built as the own-models page builds them (96x96x3, 10 classes, random weights, BatchNorm
statistics measured on photographs), in --work. Results accumulate in docs/own-models-budget.json
(a family and runtime already stored is skipped unless named in --families) and the table is
rewritten to docs/own-models-budget.md. Each family and runtime is a cell of deploytool.cluster
that measures time: on Ray (a local instance, or the cluster at --ray-address; --serial: without
Ray) alone on its node, in a process of its own (one process measuring EfficientNetB0 and
EfficientNetV2B0 in turn had grown to 14 GiB of this machine's 24), kept in --work as it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.cluster.cells import Cell, cache_file
from deploytool.cluster.run import run_cells
from deploytool.core.fileio import write_bytes, write_json
from deploytool.reports.own_models import FAMILIES, build_family_file, family_by_name
from deploytool.sources.model_source import load_source
from deploytool.workflows.quantization.budget_criteria import Budget
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.quantization.optimize import ROUNDS, optimize

DOCS = Path(__file__).resolve().parents[1] / "docs"
RESULTS = DOCS / "own-models-budget.json"
BUDGET = Budget(min_cosine=0.99)
BUSY_LOAD = 2.5  # the machine has 2 cores; the benchmark itself keeps about 2 busy


def measure(family, runtime: str, work: Path, log) -> dict:
    """optimize on one family for one runtime: the int8 search's outcome and the choice; then,
    in the same process (its imports and caches as warm as the search's, so the ratio is not
    flattered), a plain `convert --int8` of the same file, which the search's time is set
    against."""
    path = build_family_file(family, work)
    source = load_source(str(path), preprocess={"preset": family.preset})
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    report = optimize(source, runtime, BUDGET, out_dir=work / f"{family.name}-{runtime}",
                      threads=2, runs=20, log=log)
    seconds = time.perf_counter() - started
    plain_started = time.perf_counter()
    convert(source, ConvertOptions.create("tflite" if runtime == "tflite" else "onnx", precision="int8",
                                          out_dir=work / f"{family.name}-{runtime}-plain"),
            remember=False)
    plain_seconds = time.perf_counter() - plain_started
    by_label = {c.label: c for c in report.candidates}
    return {"seconds": round(seconds), "plain_int8_seconds": round(plain_seconds, 1),
            "chosen": report.chosen.label,
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "reason": report.reason, "int8_search": report.int8_search, "timing_rounds": ROUNDS,
            "plain_int8_cosine": by_label["int8"].figures["min_cosine"] if "int8" in by_label else None,
            "candidates": [c.as_dict() for c in report.candidates]}


def write_page(results: dict) -> None:
    """docs/own-models-budget.md from the stored results."""
    lines = ["# The int8 budget on keras.applications families", "",
             "`deploytool optimize FILE --runtime R --min-cosine 0.99` on the files of "
             "[own-models.md](own-models.md) (96x96x3, 10 classes, random weights, BatchNorm "
             "statistics measured on photographs), judged on the held-out photographs. The int8 "
             "search (calibrated once, each attempt a re-quantization): plain int8, a .tflite's "
             "float input and output, every layer diagnose ranks in float, then their count "
             "bisected, then, where a few layers were enough, the other calibrations; optimize "
             "then keeps the fastest candidate that meets it, float forms included. "
             "Regenerate with `.venv/bin/python benchmarks/own_models_budget.py`.", "",
             "The search's own time is set against a plain `convert --int8` of the same file, "
             "measured in the same process right after it (its imports and caches as warm); "
             "*before* is the search of 2026-11 (every attempt a whole conversion; a walk through "
             "1, 2, 3, 5, 8, ... layers in float), as optimize's whole run and its attempts.", "",
             "| family | runtime | plain int8 worst cosine | int8 search | attempts (before) | "
             "search | plain --int8 | search / plain | optimize chose | why | optimize time (before) |",
             "|---|---|---:|---|---:|---:|---:|---:|---|---|---:|"]
    for key, row in results.items():
        family, runtime = key.split("/")
        search = row["int8_search"] or {}
        outcome = ("float only" if search.get("float_only") and search.get("verdict") != "met"
                   else f"met by {search.get('chosen')}" if search.get("verdict") == "met"
                   else search.get("verdict", "-"))
        if search.get("float_only") and search.get("verdict") == "met":
            outcome = f"met only with every ranked layer in float ({len(search['layers_in_float'])})"
        if search.get("failed_attempts"):  # tried, but the converter could not make it
            outcome += f" ({', '.join(f['label'] for f in search['failed_attempts'])}: could not be made)"
        cosine, before = row["plain_int8_cosine"], row.get("before") or {}
        attempts = len(search.get("attempts", []))
        attempts_text = f"{attempts} ({before['attempts']})" if before.get("attempts") else f"{attempts}"
        timed = f"{row['seconds']} s ({before['seconds']} s)" if before.get("seconds") else f"{row['seconds']} s"
        plain, searched = row.get("plain_int8_seconds"), search.get("seconds")
        ratio = f"{searched / plain:.1f}x" if plain and searched is not None else "-"
        lines.append(f"| {family} | {runtime} | {cosine:.4f} | {outcome} | {attempts_text} | "
                     f"{_seconds(searched)} | {_seconds(plain)} | {ratio} | {row['chosen']} | "
                     f"{row['reason'].replace('|', '/')} | {timed} |" if cosine is not None else
                     f"| {family} | {runtime} | - | - | - | - | - | - | {row['chosen']} | "
                     f"{row['reason']} | {timed} |")
    busy = [key for key, row in results.items()
            if row.get("shared_cores") or max(row.get("load_average") or [0]) > BUSY_LOAD]
    if busy:
        lines += ["", f"Measured while other work shared the 2 cores (1-minute load average above "
                  f"{BUSY_LOAD}, or known to): {', '.join(busy)}. Their latencies, and so which "
                  "candidate optimize found fastest, may differ on a quiet machine; their accuracy "
                  "figures do not depend on it."]
    one_round = [key for key, row in results.items() if row["candidates"] and not row.get("timing_rounds")]
    if one_round:
        lines += ["", f"Timed in one child process per candidate (before optimize took the median of "
                  f"{ROUNDS} rounds in turn; one such round had ConvNeXtTiny's fp32 .onnx at 32 ms "
                  f"where `bench` gives 17-19 ms): {', '.join(one_round)}. Their choice between "
                  "candidates within a factor of about 1.5 of each other is not settled by them."]
    missing = [f.name for f in FAMILIES if not any(k.startswith(f.name + "/") for k in results)]
    if missing:
        lines += ["", f"Not measured yet: {', '.join(missing)}."]
    write_bytes(DOCS / "own-models-budget.md", ("\n".join(lines) + "\n").encode())


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.0f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", help="comma-separated family names (default: all)")
    parser.add_argument("--runtimes", default="tflite,onnxruntime")
    parser.add_argument("--work", default="/tmp/deploytool-own-models-budget")
    parser.add_argument("--ray-address", help="a Ray cluster's head (default: a local instance)")
    parser.add_argument("--serial", action="store_true", help="one after another, without Ray")
    parser.add_argument("--again", action="store_true",
                        help="measure every family again, keeping each row's earlier time as before")
    args = parser.parse_args()
    work = Path(args.work)
    families = ([family_by_name(name) for name in args.families.split(",")] if args.families
                else list(FAMILIES))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    keys = [f"{family.name}/{runtime}" for family in families for runtime in args.runtimes.split(",")]
    todo = [key for key in keys if key not in results or args.families or args.again]
    # each family and runtime a cell that measures time: on Ray, alone on its node, in a process
    # of its own (what a conversion holds is given back when it ends)
    cells = [Cell(key, f"{Path(__file__).resolve()}:measure_in_child", (*key.split("/"), str(work)),
                  exclusive=True) for key in todo]
    for cell in cells:  # named ones are measured again
        cache_file(work, cell).unlink(missing_ok=True)
    for key, result in run_cells(cells, work, args.ray_address, args.serial,
                                 log=lambda line: print(line, flush=True)).items():
        previous = results.get(key)
        results[key] = result.value if result.ok else error_row(result.error)
        if previous and previous.get("int8_search") is not None:
            results[key]["before"] = previous.get("before") or {
                "seconds": previous["seconds"],
                "attempts": len(previous["int8_search"].get("attempts", []))}
        print(f"{key}: {results[key]['chosen']} ({results[key]['seconds']} s)", flush=True)
    write_json(RESULTS, results)
    write_page(results)


def measure_in_child(family_name: str, runtime: str, work: str) -> dict:
    """:func:`measure` of one family on one runtime, in a process of its own; a family the
    runtime cannot take is a row, not the end."""
    key = f"{family_name}/{runtime}"
    try:
        return measure(family_by_name(family_name), runtime, Path(work),
                       lambda message: print(f"{key}: {message}", flush=True))
    except Exception as error:
        return error_row(str(error)[:193])


def error_row(reason: str) -> dict:
    """The row of a family and runtime that gave no result, saying why."""
    return {"seconds": 0, "chosen": "-", "reason": f"error: {reason}", "int8_search": None,
            "plain_int8_cosine": None, "candidates": []}


if __name__ == "__main__":
    main()
