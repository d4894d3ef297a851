"""Manifests: one JSON next to every artifact, an index per output folder, and a pointer to what
`deploytool convert` wrote last (what `deploytool verify` checks when given no artifact).

The pointer is set by :func:`remember_last_convert` when a conversion the user asked for is done,
never by writing a manifest: an accuracy budget's trial conversions write manifests into a
temporary folder, and an interrupted budget must leave the pointer on the last real artifact."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from deploytool.core.errors import UserError
from deploytool.core.fileio import sha256_file, write_json

LAST_CONVERT = Path(".deploytool") / "last-convert.json"
INDEX_NAME = "manifest.json"
TOOLS = ("deploytool", "tensorflow", "tf-keras", "keras", "tensorflow-model-optimization", "tf2onnx",
         "onnx", "onnxruntime", "opencv-python-headless", "ai-edge-litert", "numpy")


def tool_versions() -> dict:
    """Versions of Python and of every library that touches an artifact."""
    versions = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def now() -> str:
    """The current UTC time as an ISO-8601 string (seconds), for "created" fields."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def manifest_path(artifact) -> Path:
    """Where the manifest of ``artifact`` lives: ``<artifact>.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def write_manifest(artifact, entry: dict) -> Path:
    """Write ``entry`` next to ``artifact`` and add it to its folder's index (replacing an older
    entry for the same file). Returns the manifest path."""
    artifact = Path(artifact)
    path = write_json(manifest_path(artifact), entry)
    index_path = artifact.parent / INDEX_NAME
    index = read_json(index_path) or {"artifacts": []}
    index["artifacts"] = [e for e in index["artifacts"]
                          if e.get("artifact", {}).get("file") != artifact.name] + [entry]
    write_json(index_path, index)
    return path


def remember_last_convert(artifacts) -> None:
    """Record ``artifacts`` as what `deploytool convert` wrote last (in the working directory)."""
    write_json(LAST_CONVERT, {"artifacts": [str(Path(artifact).resolve()) for artifact in artifacts]})


def last_converted() -> list[Path]:
    """The artifacts `deploytool convert` wrote last (from .deploytool/last-convert.json)."""
    record = read_json(LAST_CONVERT)
    if record is None:
        raise UserError(f"no artifact given and no conversion recorded in {LAST_CONVERT}; "
                        "run `deploytool convert` first or name the artifacts")
    return [Path(p) for p in record.get("artifacts") or []]


def read_json(path) -> dict | None:
    """The JSON in ``path``, or None if there is no such file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: unreadable JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object")
    return value


def integrity_failures(artifact, manifest) -> list[str]:
    """[] when the file's sha256 (and its companion files') is the one its manifest (a
    :class:`Manifest` or its raw JSON) records, else the failure."""
    record = manifest.record if isinstance(manifest, Manifest) else manifest
    entry = record.get("artifact") or {}
    if sha256_file(artifact) != entry.get("sha256"):
        return ["sha256 differs from the manifest: the file changed after conversion"]
    for suffix, side in (entry.get("side_files") or {}).items():
        companion = Path(artifact).with_suffix(suffix)
        if not companion.exists() or sha256_file(companion) != side.get("sha256"):
            return [f"{companion.name} is missing or differs from the manifest"]
    return []


def read_manifest(artifact) -> dict | None:
    """The manifest written next to ``artifact``, or None."""
    return read_json(manifest_path(artifact))


@dataclass(frozen=True)
class Manifest:
    """An artifact's manifest, validated once when read (:meth:`read`): what verify, bench,
    bundle and the pipeline need, typed; ``record`` keeps the whole JSON as written."""

    artifact: Path
    format: str
    precision: str
    sha256: str
    size_bytes: int
    inputs: list
    outputs: list
    input_layout: str
    reference: Path
    trained: bool
    preprocessing: object  # deploytool.core.preprocessing.Preprocessing
    dataset: str | None
    labels: list | None
    postprocess: str | None
    calibration_source: str | None
    parity: dict | None
    record: dict = field(repr=False)

    @property
    def output_kinds(self) -> dict[str, str]:
        """Each output's kind by name, in the model's order (a manifest written before outputs
        had kinds has one output, of class scores)."""
        return {str(o["name"]): str(o.get("kind") or "scores") for o in self.outputs}

    @property
    def removed_outputs(self) -> list[str]:
        """Outputs of the source model the artifact leaves out (training-only heads, and the
        ones the user dropped)."""
        strip = self.record.get("strip_report") or {}
        return [*(strip.get("removed_outputs") or []), *(strip.get("dropped_outputs") or [])]

    def kept_outputs(self, reference: dict) -> dict:
        """The reference model's outputs ({name: values}) that the artifact computes: all but
        the ones its conversion removed (a SavedModel signature as the reference still has them)."""
        removed = set(self.removed_outputs)
        return {name: values for name, values in reference.items() if name not in removed}

    @property
    def labelled_output(self) -> str | None:
        """The output that labels judge: the first of class scores (None if there is none)."""
        return next((name for name, kind in self.output_kinds.items() if kind == "scores"), None)

    @property
    def classes(self) -> int | None:
        """How many class scores the labelled output has (None: no output of class scores)."""
        name = self.labelled_output
        if name is None:
            return None
        return int(next(o for o in self.outputs if o["name"] == name)["shape"][-1])

    @property
    def side_files(self) -> dict:
        """Companion files written with the artifact (suffix -> {file, sha256})."""
        return self.record["artifact"].get("side_files") or {}

    @property
    def artifact_entry(self) -> dict:
        """The manifest's description of the file itself (name, format, precision, size,
        digest, inputs, outputs, layout, companion files), as written."""
        return self.record["artifact"]

    @property
    def settings(self) -> dict:
        """The conversion settings as recorded (what ``ConvertOptions.from_record`` reads)."""
        return self.record.get("settings") or {}

    @property
    def conversion_seconds(self) -> float | None:
        """How long the conversion took (None in a manifest written before it was recorded)."""
        seconds = self.record.get("conversion_seconds")
        return None if seconds is None else float(seconds)

    @property
    def conversion_path(self) -> dict:
        """Which Keras ran the passes and the export, through which exporter, and which passes
        were skipped and why."""
        return self.record.get("conversion_path") or {"framework": "tf_keras", "exporter": "",
                                                      "passes_skipped": {}}

    @property
    def framework(self) -> str:
        """The Keras that converted the model: tf_keras or keras3."""
        return str(self.conversion_path.get("framework") or "tf_keras")

    @property
    def budget(self) -> dict | None:
        """The accuracy budget's record when the artifact was chosen by one (None otherwise)."""
        return self.record.get("budget")

    @property
    def layers_in_float(self) -> list[str]:
        """The layers an accuracy budget kept in float ([] without a budget)."""
        return list((self.budget or {}).get("layers_in_float") or [])

    @property
    def target_rewrites(self) -> dict:
        """What the export target rewrote in the graph for its runtime, by rewrite ({} if
        nothing)."""
        return dict(self.record.get("target_rewrites") or {})

    @property
    def qat_report(self) -> dict | None:
        """Quantization-aware training's accuracy report (None when it did not run)."""
        return self.record.get("qat_report")

    @property
    def parity_passed(self) -> bool:
        """Whether the conversion's own parity check passed (True where none was recorded)."""
        return bool((self.parity or {}).get("passed", True))

    @property
    def source_name(self) -> str:
        """The source model's name (its path where it has no name)."""
        source = self.record["source"]
        return str(source.get("name") or source.get("path") or self.reference.name)

    def summary(self) -> dict:
        """The few fields `inspect` shows of a manifest: source, precision, digest, parity."""
        return {"source": self.source_name, "precision": self.precision, "sha256": self.sha256,
                "parity_passed": self.parity_passed}

    def with_records(self, **records) -> "Manifest":
        """This manifest with top-level ``records`` added or replaced (validated again)."""
        return Manifest.from_record(self.artifact, {**self.record, **records})

    def moved(self, artifact, reference=None) -> "Manifest":
        """This manifest for a copy of its artifact at ``artifact`` (and of its Keras reference
        at ``reference``, when that moved too)."""
        record = dict(self.record)
        if reference is not None:
            record["source"] = {**record["source"], "reference": str(Path(reference).resolve())}
        return Manifest.from_record(artifact, record)

    def write(self) -> Path:
        """Write this manifest next to its artifact and into its folder's index; returns the
        manifest's path. What is written is what :meth:`read` reads back."""
        return write_manifest(self.artifact, self.record)

    @classmethod
    def from_record(cls, artifact, record: dict) -> "Manifest":
        """Validate ``record`` (a manifest's JSON) for ``artifact``; a missing or malformed field
        is a one-line error naming it."""
        from deploytool.core.preprocessing import Preprocessing

        artifact = Path(artifact)
        try:
            entry, source = record["artifact"], record["source"]
            manifest = cls(
                artifact=artifact, format=str(entry.get("format") or artifact.suffix[1:]),
                precision=str(entry["precision"]), sha256=str(entry["sha256"]),
                size_bytes=int(entry.get("size_bytes") or 0), inputs=list(entry["inputs"]),
                outputs=list(entry["outputs"]), input_layout=str(entry.get("input_layout") or "NHWC"),
                reference=Path(source["reference"]), trained=bool(source.get("trained", True)),
                preprocessing=Preprocessing.from_dict(record["preprocessing"]),
                dataset=record["preprocessing"].get("dataset"), labels=record.get("labels"),
                postprocess=record.get("postprocess"),
                calibration_source=(record.get("calibration") or {}).get("source"),
                parity=record.get("parity"), record=record)
            if not manifest.outputs:
                raise ValueError("outputs")
            manifest.classes  # noqa: B018 - validates the output shape
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, UserError) as exc:
            raise UserError(f"{manifest_path(artifact)}: not a deploytool manifest (missing or "
                            f"malformed {exc})") from None
        return manifest

    @classmethod
    def read(cls, artifact) -> "Manifest":
        """The manifest of an existing artifact; a missing file or a missing manifest is a
        one-line error (whether the file is an artifact at all is the caller's question:
        :func:`deploytool.workflows.artifacts.manifest_of`)."""
        artifact = Path(artifact)
        if not artifact.exists():
            raise UserError(f"{artifact}: no such file")
        record = read_manifest(artifact)
        if record is None:
            raise UserError(f"{artifact}: no manifest ({artifact.name}.json) next to it, so no "
                            "reference model to compare with; convert it with `deploytool convert`")
        return cls.from_record(artifact, record)
