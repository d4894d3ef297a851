"""TFLite Model Metadata for every .tflite convert writes: what MediaPipe Tasks, the TFLite Task
Library and Android Studio's ML Model Binding read to feed the model and name its classes.

:func:`metadata_spec` says, from the conversion's :class:`ModelDescription`, what the metadata
holds (name, summary, version, the tool; the input's colour space and normalization in the pixel
units the clients feed; each output's kind and the labels) and what the standard clients will not
do with this file (a note each). :func:`write_metadata` writes it with MediaPipe's own writer, in
MediaPipe's environment (:mod:`.metadata_writer`, through the child protocol); the interpreter
ignores metadata, so the model computes the same. :func:`read_metadata` reads it back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import deploytool
from deploytool.converters.targets.registry import ModelDescription
from deploytool.core.child import call_in_child
from deploytool.core.environments import EnvironmentMissing, require

WRITER = "deploytool.converters.targets.tflite.metadata_writer"
TIMEOUT = 300

KIND_WORDS = {"scores": "class scores", "regression": "regression values",
              "embedding": "an embedding", "dense": "a dense map"}


def metadata_spec(about: ModelDescription, tensors: dict) -> tuple[dict, list[str]]:
    """The metadata for ``about`` (as :func:`.metadata_writer.write_metadata` takes it) of a
    file whose inputs and outputs are ``tensors`` (:func:`.inspect.inspect_tflite`'s, outputs
    in the file's order, which the metadata follows), and a note for each thing the standard
    clients will not do with the file."""
    preprocessing = about.preprocessing
    mean, std = preprocessing.mean_std()
    notes = []
    if preprocessing.channels == 1:
        colour = "GRAYSCALE"
        notes.append("MediaPipe's image tasks and the Task Library feed RGB images only: the "
                     "metadata describes this grey model, and those clients will not run it "
                     "(--rgb-input makes it take RGB: luma as its first layer)")
    elif preprocessing.channel_order == "RGB":
        colour = "RGB"
    else:
        colour = "UNKNOWN"
        notes.append("the metadata cannot say BGR (its colour spaces are RGB and grey): it says "
                     "UNKNOWN, and the standard clients, which feed RGB, would swap the model's "
                     "colours (--rgb-input makes it take RGB: the channels reversed in its "
                     "first layer)")
    if len(set(mean)) > 1 or len(set(std)) > 1:
        notes.append("MediaPipe's image tasks take one mean and one std for every channel and "
                     "refuse this file's per-channel normalization (\"Per-channel image "
                     "normalization is not available\"); the Task Library takes it, and an int8 "
                     "file with --int8-io uint8 carries it in its graph")
    if tensors["inputs"][0]["dtype"] not in ("float32", "uint8"):
        notes.append(f"MediaPipe and the Task Library take uint8 or float32 input and refuse "
                     f"this {tensors['inputs'][0]['dtype']}-input file")
    labelled = next((name for name, kind in about.outputs.items() if kind == "scores"), None)
    only = next(iter(about.outputs)) if len(about.outputs) == 1 else None
    outputs = []
    for tensor in tensors["outputs"]:
        name = only or tensor["name"]  # one output: the model's name, whatever the file calls it
        kind = about.outputs.get(name, "unknown")  # not the model's: convert's check refuses it
        words = KIND_WORDS.get(kind, kind)
        if kind == "scores" and about.postprocess:
            words += f" (before {about.postprocess}: the file outputs logits)"
            notes.append(f"{name} outputs logits ({about.postprocess} left to the app): "
                         "MediaPipe and the Task Library report them as scores as they are, so "
                         "a score threshold does not see probabilities; --keep-softmax keeps "
                         "the softmax in the file")
        fits = about.labels is not None and len(about.labels) == int(tensor["shape"][-1])
        if name == labelled and about.labels is not None and not fits:
            notes.append(f"the {len(about.labels)} labels name no value of {name}'s "
                         f"{tensor['shape'][-1]} one by one, so the metadata carries none")
        outputs.append({"name": name, "kind": kind, "description": words,
                        "labels": about.labels if name == labelled and fits else None})
    spec = {"name": about.name, "description": about.summary, "version": about.version,
            "author": f"deploytool {deploytool.__version__}",
            "input": {"name": "image", "mean": list(mean), "std": list(std), "color_space": colour,
                      "description": f"{preprocessing.channels}-channel image, "
                                     f"{preprocessing.height}x{preprocessing.width}, "
                                     f"{preprocessing.describe()}"},
            "outputs": outputs}
    return spec, notes


def write_metadata(source: Path, spec: dict) -> tuple[bytes, dict]:
    """The .tflite at ``source`` with ``spec``'s metadata written in (beside it), and what the
    writer reports; :class:`~deploytool.core.environments.EnvironmentMissing` when MediaPipe's
    environment is not installed, a RuntimeError when the writer fails."""
    written = source.with_name(source.stem + "_described.tflite")
    answer = call_in_child(f"{WRITER}:write_metadata", source, written, spec,
                           python=require("mediapipe"), timeout=TIMEOUT)
    if not answer.ok:
        raise RuntimeError(f"MediaPipe's metadata writer failed ({answer.kind}): {answer.error}")
    return written.read_bytes(), answer.value


def read_metadata(path) -> dict | None:
    """The metadata in the .tflite at ``path`` (see :func:`.metadata_writer.read_metadata`),
    None when it has none; EnvironmentMissing when MediaPipe's environment is not installed."""
    answer = call_in_child(f"{WRITER}:read_metadata", Path(path).resolve(),
                           python=require("mediapipe"), timeout=TIMEOUT)
    if not answer.ok:
        raise RuntimeError(f"MediaPipe's metadata reader failed ({answer.kind}): {answer.error}")
    return answer.value


def described(exported, about: ModelDescription, log):
    """The TFLite target's :meth:`~..registry.ExportTarget.describe`: the file with its
    metadata, and the manifest's ``metadata`` record (what was written, the clients' notes; or
    why nothing was, said on the console as well)."""
    from deploytool.converters.targets.registry import Exported

    from .inspect import inspect_tflite

    with tempfile.TemporaryDirectory(prefix="deploytool-metadata-") as tmp:
        source = Path(tmp) / "model.tflite"
        source.write_bytes(exported.data)
        spec, notes = metadata_spec(about, inspect_tflite(source))
        try:
            data, written = write_metadata(source, spec)
        except EnvironmentMissing as missing:
            log(f"no TFLite metadata written: {missing}")
            return exported, {"written": False, "why": str(missing), "notes": notes}
    for note in notes:
        log(f"metadata: {note}")
    record = {"written": True, "writer": written["writer"],
              "min_parser_version": written["min_parser_version"], "notes": notes,
              "input": {"color_space": spec["input"]["color_space"], "mean": spec["input"]["mean"],
                        "std": spec["input"]["std"]},
              "outputs": {o["name"]: o["description"] for o in spec["outputs"]},
              "labels": any(o["labels"] for o in spec["outputs"])}
    return Exported(data, exported.side_files), record
