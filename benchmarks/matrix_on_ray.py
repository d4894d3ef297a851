"""`deploytool matrix` on a two-node Ray cluster against the serial run (issue 38's done-when).

    .venv/bin/python benchmarks/matrix_on_ray.py [--models lenet_bn,nin,alexnet] [--epochs 30]

On this machine: a head and a second node started by `ray start` as separate processes on
127.0.0.1, one CPU each (:class:`deploytool.cluster.local_cluster.LocalCluster`). In one work
folder: the models are trained once (a first serial run, which also computes the cells); then the
cells are computed again (`--fresh`, the trained models kept) serially, on the cluster, on the
default local Ray instance, and on the cluster with one cell's worker killed mid-run. Every run is
the CLI itself, timed from outside. Each run's JSON cells are compared with the serial run's: every
field but latency and the files' paths must be identical; latencies are set side by side.
Writes docs/matrix-on-ray.md and .json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from deploytool.cluster.local_cluster import LocalCluster, cell_workers
from deploytool.core.fileio import write_bytes, write_json

DOCS = Path(__file__).resolve().parents[1] / "docs"
DEPLOYTOOL = str(Path(sys.executable).with_name("deploytool"))
VARYING = ("median_ms", "file", "path")  # where a run's files lie, and its timings


def run_matrix(models, work: Path, out: Path, epochs: int, *extra, kill_after: float | None = None):
    """One `deploytool matrix` run: its wall seconds, its JSON, and the workers it killed."""
    command = [DEPLOYTOOL, "matrix", *models, "--epochs", str(epochs), "--artifacts", str(work),
               "--out", str(out), *extra]
    killed = []

    def kill_one():
        time.sleep(kill_after)
        for _ in range(600):
            workers = cell_workers()
            if workers:
                subprocess.run(["kill", "-9", str(workers[0])], check=False)
                killed.append(workers[0])
                return
            time.sleep(0.5)

    killer = threading.Thread(target=kill_one) if kill_after is not None else None
    started = time.perf_counter()
    if killer:
        killer.start()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if killer:
        killer.join()
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads(out.with_suffix(".json").read_text()), killed, done.stderr


def cells_of(data: dict) -> dict:
    """(model, artifact, runtime) -> cell."""
    return {(c["model"], c["artifact"], c["runtime"]): c
            for result in data["models"].values() for c in result["cells"]}


def compare(reference: dict, other: dict) -> dict:
    """How ``other``'s cells differ from ``reference``'s: fields other than latency and paths
    that differ, missing or extra cells, and the latency ratios."""
    ours, theirs = cells_of(reference), cells_of(other)
    differing = [f"{' · '.join(key)}: {field}" for key in ours.keys() & theirs.keys()
                 for field in set(ours[key]) | set(theirs[key])
                 if field not in VARYING and ours[key].get(field) != theirs[key].get(field)]
    ratios = sorted(theirs[key]["median_ms"] / ours[key]["median_ms"] for key in ours.keys() & theirs.keys()
                    if ours[key].get("median_ms") and theirs[key].get("median_ms"))
    return {"cells": len(theirs), "missing": [" · ".join(k) for k in ours.keys() - theirs.keys()],
            "extra": [" · ".join(k) for k in theirs.keys() - ours.keys()], "differing": differing,
            "latency_ratio": {"timed": len(ratios), "min": ratios[0] if ratios else None,
                              "median": ratios[len(ratios) // 2] if ratios else None,
                              "max": ratios[-1] if ratios else None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lenet_bn,nin,alexnet")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--work", default="artifacts/matrix-on-ray")
    args = parser.parse_args()
    models, work = args.models.split(","), Path(args.work).resolve()
    outs = work / "pages"
    runs = {}

    def record(name, *extra, kill_after=None):
        seconds, data, killed, stderr = run_matrix(models, work, outs / f"{name}.md", args.epochs,
                                                   *extra, kill_after=kill_after)
        runs[name] = {"seconds": round(seconds, 1), "data": data, "killed": killed,
                      "retries": [line for line in stderr.splitlines() if "again" in line]}
        print(f"{name}: {seconds:.0f} s", flush=True)

    record("first (trains)", "--serial")
    record("serial", "--serial", "--fresh")
    with LocalCluster(nodes=2, cpus_per_node=1) as address:
        record("two-node cluster", "--ray-address", address, "--fresh")
        record("two-node cluster, a worker killed", "--ray-address", address, "--fresh",
               kill_after=20.0)
    record("local Ray instance (default)", "--fresh")
    reference = runs["serial"]["data"]
    summary = {name: {"seconds": run["seconds"], "killed_workers": run["killed"],
                      "retries": run["retries"], **compare(reference, run["data"])}
               for name, run in runs.items()}
    write_json(DOCS / "matrix-on-ray.json", {"models": models, "epochs": args.epochs, "runs": summary})
    write_bytes(DOCS / "matrix-on-ray.md", render(models, args.epochs, summary).encode())


def render(models, epochs, summary: dict) -> str:
    """The page."""
    lines = ["# The trained matrix on a two-node Ray cluster", "",
             f"Generated by `benchmarks/matrix_on_ray.py` (do not edit by hand): `deploytool matrix "
             f"{' '.join(models)} --epochs {epochs}` on this 2-core machine, each run the CLI itself "
             "timed from outside. The models were trained once (the first run); every later run "
             "computed all cells again (`--fresh`). The two-node cluster is a head and a second node "
             "started by `ray start` as separate processes on 127.0.0.1, one CPU each. Each run's "
             "JSON cells are compared with the serial run's: every field but the latency and the "
             "files' paths must be identical.", "",
             "| run | wall time | cells | missing | differing fields | latency / serial's (min, median, max of timed cells) | workers killed | retried |",
             "|---|---:|---:|---:|---:|---|---:|---|"]
    for name, run in summary.items():
        ratio = run["latency_ratio"]
        ratios = f"{ratio['min']:.2f}, {ratio['median']:.2f}, {ratio['max']:.2f} ({ratio['timed']})" \
            if ratio["timed"] else "–"
        retried = "; ".join(line.strip("· ") for line in run["retries"]) or "–"
        lines.append(f"| {name} | {run['seconds']:.0f} s | {run['cells']} | {len(run['missing'])} | "
                     f"{len(run['differing'])} | {ratios} | {len(run['killed_workers'])} | {retried} |")
    differing = sorted({d for run in summary.values() if run is not summary["serial"] for d in run["differing"]})
    lines += ["", "Fields that differ from the serial run: " + ("; ".join(differing[:20]) or "none") + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
