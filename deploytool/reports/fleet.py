"""The deployability matrix of a user's own models (`deploytool matrix --fleet FLEET`): each model
file converted to every artifact kind and verified on every runtime, as the zoo's page, one cell
of :mod:`deploytool.cluster` per model (kept by the file's hash), timed with its node to itself.

FLEET is a folder of model files, or a JSON file listing them::

    {"models": [{"path": "faces.h5", "preprocess": {"preset": "tf"}, "labels": "faces.txt",
                 "data": "folder:photos/", "name": "faces"}]}

In a folder, a file's settings sit beside it as ``<file>.json`` (the same keys but ``path``).
``preprocess`` takes the keys of `deploytool convert`'s preprocessing options (preset, mean,
std, channel_order); ``data`` is what verify's ``--data`` takes (``folder:DIR`` of class
sub-folders, ``images:DIR`` unlabelled, a built-in set), default the model's own held-out
photos; relative paths are the fleet file's folder's.
With labelled ``data`` an int8 artifact is held to the zoo page's budget (top-1 within 1 point
of float and 90 % agreement), otherwise to 90 % agreement with float.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deploytool.core.errors import UserError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
KEYS = {"path", "name", "preprocess", "labels", "data"}


@dataclass(frozen=True)
class FleetModel:
    """One model of a fleet: its file, how its input is preprocessed, its labels and data."""

    name: str
    path: str
    preprocess: dict | None = None
    labels: str | None = None
    data: str | None = None


def _entry(record: dict, base: Path, where: str) -> FleetModel:
    if not isinstance(record, dict) or "path" not in record:
        raise UserError(f"{where}: each model needs a \"path\"")
    unknown = set(record) - KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(sorted(KEYS))})")

    path = base / record["path"]
    if not path.exists():
        raise UserError(f"{where}: {record['path']}: no such file or directory")
    if record.get("labels") and not (base / record["labels"]).is_file():
        raise UserError(f"{where}: labels {record['labels']}: no such file")
    labels = str((base / record["labels"]).resolve()) if record.get("labels") else None
    return FleetModel(record.get("name") or path.stem, str(path.resolve()),
                      record.get("preprocess"), labels, _data(record.get("data"), base))


def _data(name: str | None, base: Path) -> str | None:
    """A fleet entry's data as verify takes it, a folder's path resolved against ``base``
    (``folder:photos`` → ``folder:/abs/photos``), checked now (a one-line error)."""
    from deploytool.sources.datasets import FOLDER_PREFIX, IMAGES_PREFIX, check_dataset_name

    if not name:
        return None
    for prefix in (FOLDER_PREFIX, IMAGES_PREFIX):
        if name.startswith(prefix):
            name = prefix + str((base / name[len(prefix):]).resolve())
    return check_dataset_name(name)


def labelled(data: str | None) -> bool:
    """Whether verify's images from ``data`` carry labels (a folder of class sub-folders, a
    built-in set), so accuracy can be judged; the model's own photos and images: folders do not."""
    from deploytool.sources.datasets import IMAGES_PREFIX

    return bool(data) and not data.startswith(IMAGES_PREFIX)


def read_fleet(spec) -> list[FleetModel]:
    """The models ``spec`` names: a folder's model files (each with its ``<file>.json``
    settings, if any) or a JSON file's ``models`` list; a one-line error for what is wrong."""
    spec = Path(spec)
    if spec.is_dir():
        models = []
        for path in sorted(p for p in spec.iterdir() if p.suffix in MODEL_SUFFIXES):
            side = path.with_name(path.name + ".json")
            record = json.loads(side.read_text()) if side.exists() else {}
            models.append(_entry({**record, "path": path.name}, spec, str(side if side.exists() else path)))
    elif spec.is_file():
        try:
            records = json.loads(spec.read_text())["models"]
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{spec}: not a fleet file (JSON with a \"models\" list)") from None
        models = [_entry(record, spec.parent, f"{spec} model {i + 1}") for i, record in enumerate(records)]
    else:
        raise UserError(f"{spec}: no such fleet folder or file")
    if not models:
        raise UserError(f"{spec}: no model files ({', '.join(MODEL_SUFFIXES)})")
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        raise UserError(f"{spec}: two models share a name; give each a \"name\"")
    return models


def fleet_model_cells(model: dict, folder: str, samples: int, calib_samples: int) -> list[dict]:
    """Every cell of one fleet model (a :class:`FleetModel` as a dict), as a cell of
    :mod:`deploytool.cluster` runs it (in a child process)."""
    from deploytool.reports.matrix import label_known_causes, source_cells
    from deploytool.reports.matrix_trained import INT8_MAX_DROP, MIN_TOP1_AGREEMENT, NUMERICAL
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.quantization.budget import Budget

    entry = FleetModel(**model)
    source = load_source(entry.path, preprocess=entry.preprocess, labels=entry.labels)
    budget = Budget(max_drop=INT8_MAX_DROP if labelled(entry.data) else None,
                    min_agreement=MIN_TOP1_AGREEMENT)
    cells = source_cells(source, entry.name, Path(folder) / "artifacts", samples, calib_samples,
                         data=entry.data, numerical=NUMERICAL, budget=budget,
                         log=lambda message: print(message, flush=True))
    return label_known_causes(cells)


def timed_fleet_cells(cells: list[dict], *settings) -> list[dict]:
    """A fleet cell's timing step: every artifact that ran, timed on its runtime."""
    from deploytool.reports.cell_timing import timed_cells
    from deploytool.reports.matrix_trained import TIMING

    return timed_cells(cells, TIMING)


def build_fleet_matrix(models: list[FleetModel], work, samples: int, calib_samples: int = 100,
                       address: str | None = None, serial: bool = False, fresh: bool = False,
                       log=lambda message: None, progress=lambda done, total, label: None):
    """Every fleet model's cells (one cluster cell each, kept by the model file's hash and the
    settings) and the wall time, or None when some were kept from an earlier run."""
    from deploytool.cluster.cells import Cell
    from deploytool.cluster.run import run_cells
    from deploytool.reports.matrix import failed_model_cells

    started = time.perf_counter()
    work = Path(work).resolve()
    jobs = [Cell(m.name, f"{__name__}:fleet_model_cells", (asdict(m), str(work), samples, calib_samples),
                 files=tuple(f for f in (m.path, m.labels) if f), timing=f"{__name__}:timed_fleet_cells")
            for m in models]
    results = run_cells(jobs, work, address, serial, fresh, log, progress)
    cells = [cell for name, result in results.items()
             for cell in (result.value if result.ok else failed_model_cells(name, result.error))]
    kept = any(result.cached for result in results.values())
    return cells, None if kept else time.perf_counter() - started


def render_fleet_page(cells: list[dict], models: list[FleetModel], samples: int,
                      wall_seconds: float | None) -> str:
    """The fleet's page: what each model is and was checked on, then the zoo page's tables."""
    from deploytool.reports.matrix import ARTIFACT_KINDS, render_tables
    from deploytool.reports.matrix_sections import versions_line

    lines = ["# Deployability matrix: your models", "",
             "Generated by `deploytool matrix --fleet` (do not edit by hand). Each model file is "
             "converted by `deploytool convert` to every artifact kind and verified by `deploytool "
             f"verify` on every runtime, on up to {samples} held-out images; int8 within an "
             "accuracy budget (top-1 within 1 point of float with labelled data, and the same "
             "decision as float on at least 90 % of the images). A ✅ shows the max abs error "
             "(fp32) or the worst cosine (reduced precision), and the median latency of one image "
             "timed with the node to itself.", "",
             "| model | file | preprocessing | data |", "|---|---|---|---|"]
    for model in models:
        preprocess = ", ".join(f"{k} {v}" for k, v in (model.preprocess or {}).items()) or "the file's own"
        lines.append(f"| {model.name} | {Path(model.path).name} | {preprocess} | "
                     f"{model.data or 'its own held-out photos'} |")
    lines += ["", versions_line(wall_seconds), ""]
    lines += render_tables(cells, [label for label, _, _ in ARTIFACT_KINDS])
    return "\n".join(lines)


def write_fleet_outputs(cells: list[dict], models: list[FleetModel], samples: int,
                        wall_seconds: float | None, out_file) -> list[Path]:
    """The fleet's page at ``out_file`` and its cells as JSON beside it; returns both paths."""
    from deploytool.core.fileio import write_bytes, write_json
    from deploytool.core.manifest import tool_versions

    out_file = Path(out_file)
    write_bytes(out_file, render_fleet_page(cells, models, samples, wall_seconds).encode())
    write_json(out_file.with_suffix(".json"), {"settings": {"samples": samples},
                                               "versions": tool_versions(),
                                               "wall_seconds": wall_seconds, "cells": cells})
    return [out_file, out_file.with_suffix(".json")]
