"""What a conversion records: the manifest entry of a written artifact (its parity, its
outputs, which path converted it) and the description its own metadata carries. Built from the
conversion's steps in :mod:`.convert`; the manifest class itself is
:class:`deploytool.core.manifest.Manifest`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import Exported, ModelDescription, target
from deploytool.core.fileio import sha256_file, size_of
from deploytool.core.manifest import now, tool_versions
from deploytool.sources.calibration import used_counts
from deploytool.sources.model_source import ModelSource


@dataclass
class Prepared:
    """The models and reports of :func:`prepare`: ``model`` is the stripped, unfolded model (the
    parity reference), ``export_model`` what the exporter gets."""

    model: object
    export_model: object
    outputs_removed: bool  # the model has fewer outputs than its source file
    kinds: dict  # every output's kind by name, in the model's order
    reports: dict
    skipped: dict
    postprocess: str | None
    logits_model: object = None
    qat_data: dict | None = None


def conversion_path(source: ModelSource, options: ConvertOptions, skipped: dict) -> dict:
    """Which Keras ran the passes and the export, through which converter entry point, and which
    passes did not run and why (for the manifest)."""
    keras3_path = source.framework == "keras3"
    return {"framework": source.framework, "reason": source.framework_reason,
            "exporter": target(options.to).exporter(keras3_path), "passes_skipped": skipped}


def parity_record(checked: dict, images_source: str) -> dict:
    """The manifest's ``parity``: every output's figures and verdict, and, for a model with one
    output, its figures and bar at the top (as verify's JSON has them)."""
    verdicts = checked["verdicts"]
    record = {"runtime": checked["runner"].name, "engine": getattr(checked["runner"], "engine", None),
              "images": images_source,
              "passed": not checked["failures"], "failures": checked["failures"],
              "outputs": [verdict.as_dict() for verdict in verdicts]}
    if "other_size" in checked:
        record["other_size"] = checked["other_size"]
    if len(verdicts) == 1:
        record["figures"] = verdicts[0].figures
        record["tolerance"] = verdicts[0].tolerance.as_dict() if verdicts[0].tolerance else None
    return record


def artifact_outputs(runner, kinds: dict) -> list[dict]:
    """The artifact's outputs as the manifest lists them: in the model's order, each with its
    kind (a single output takes the model's one kind whatever the file names it)."""
    described = {info.name: info.as_dict() for info in runner.outputs}
    if len(described) == 1:
        (only,) = described.values()
        return [{**only, "kind": next(iter(kinds.values()))}]
    return [{**described[name], "kind": kind} for name, kind in kinds.items()]


def record(artifact: Path, exported: Exported, source: ModelSource, options: ConvertOptions,
           prepared: Prepared, calibration, checked: dict, images_source: str, reference: Path,
           seconds: float) -> dict:
    """The manifest entry of a written artifact."""
    chosen, runner = target(options.to), checked["runner"]
    side_files = {suffix: {"file": artifact.with_suffix(suffix).name,
                           "sha256": sha256_file(artifact.with_suffix(suffix))}
                  for suffix in exported.side_files}
    return {
        "artifact": {"file": artifact.name, "format": options.to, "precision": options.precision,
                     "size_bytes": size_of(artifact), "sha256": sha256_file(artifact),
                     "inputs": [i.as_dict() for i in runner.inputs],
                     "outputs": artifact_outputs(runner, prepared.kinds),
                     "input_layout": chosen.input_layout(options),
                     "input_name": chosen.input_name(runner), "side_files": side_files},
        "source": {**source.description, "trained": source.trained,
                   "reference": str(reference.resolve()),
                   "reference_sha256": sha256_file(reference)},
        "postprocess": prepared.postprocess,
        "settings": {**options.to_record(), **used_counts(calibration)},
        "preprocessing": {**source.preprocessing.as_dict(), "dataset": source.dataset},
        "labels": source.labels,
        **prepared.reports,
        "conversion_path": conversion_path(source, options, prepared.skipped),
        "calibration": calibration.description if calibration is not None else None,
        "qat_report": checked["qat"],
        "conversion_seconds": round(seconds, 3),
        "parity": parity_record(checked, images_source),
        "tool_versions": tool_versions(),
        "created": now(),
    }


def model_description(source: ModelSource, options: ConvertOptions,
                      prepared: Prepared) -> ModelDescription:
    """What the artifact's own metadata says of the model: name, a sentence, version (the source
    file's digest where there is a file), preprocessing, outputs and labels."""
    kinds = ", ".join(f"{name} ({kind})" for name, kind in prepared.kinds.items())
    digest = source.description.get("sha256") or source.description.get("weights_sha256")
    return ModelDescription(
        name=source.name, version=f"sha256 {digest[:16]}" if digest else source.kind,
        summary=f"{source.name} as {options.precision} {target(options.to).label}, converted by "
                f"deploytool; outputs: {kinds}",
        preprocessing=source.preprocessing, outputs=dict(prepared.kinds), labels=source.labels,
        postprocess=prepared.postprocess, precision=options.precision,
        input_layout=target(options.to).input_layout(options))
