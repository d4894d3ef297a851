"""The conversion pipeline in five steps: calibrate (the int8 calibration images, and the parity
images) -> prepare (strip training heads, fold BatchNorm checked on the parity images, simplify,
detach the softmax, QAT) -> export (through the registered target) -> check (the staged file's
outputs are the model's, then quick parity) -> record (the manifest). Each pass is ``model ->
(model, report)`` or a plain function; this module only composes them."""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deploytool.converters.failures import ConversionError, first_error_line
from deploytool.converters.options import ConvertOptions
from deploytool.converters.outputs import one_value_notes, output_kinds
from deploytool.converters.passes.fold_batchnorm import fold_batchnorm
from deploytool.converters.passes.target_rewrites import apply_target_rewrites
from deploytool.converters.passes.simplify import centre_tap_convolutions
from deploytool.converters.passes.softmax import detach_softmax
from deploytool.converters.passes.strip_training import strip_training_heads
from deploytool.converters.targets.registry import target
from deploytool.core.errors import UserError
from deploytool.core.fileio import atomic_path
from deploytool.core.manifest import Manifest, remember_last_convert
from deploytool.core.reuse import Reuse, made_once
from deploytool.core.output_parity import (compare_every_output, failures_of, figures_text,
                                            require_model_outputs)
from deploytool.core.roundoff import float32_roundoff
from deploytool.runtimes.base import runner_for
from deploytool.runtimes.isolation import runner_that_runs
from deploytool.runtimes.keras_runner import KerasRunner
from deploytool.sources.calibration import calibration_note, calibration_set
from deploytool.sources.model_source import ModelSource
from deploytool.workflows.conversion.qat_step import qat_model_for, qat_report
from deploytool.workflows.conversion.records import Prepared, model_description, record

PARITY_SAMPLES = 16
# A quick check that fails is judged again on this many images before convert says FAIL: 14 of
# 16 decisions kept (0.875, 95 % interval 0.64-0.97) does not show that fewer than 9 in 10 are.
PARITY_CONFIRM_SAMPLES = 128
# Passes that work on tf_keras graphs only, and what happens instead on the Keras 3 path.
KERAS3_SKIPPED_PASSES = {
    "fold_batchnorm": "Keras 3 path: the converters fold BatchNorm themselves",
    "centre_tap": "Keras 3 path: the 1x1-map convolution rewrite works on tf_keras graphs",
    "qat": "Keras 3 path: tensorflow-model-optimization needs a tf_keras model",
}
DEFAULT_DATA_WORDS = {"digits": "scikit-learn's handwritten digits",
                      "photos": "crops of scikit-image's sample photographs"}


@dataclass
class ConvertResult:
    """What :func:`convert` wrote and measured."""

    artifact: Path
    manifest: Manifest
    messages: list[str] = field(default_factory=list)


def parity_images(source: ModelSource, options: ConvertOptions, calibration,
                  samples: int = PARITY_SAMPLES) -> tuple[np.ndarray, str]:
    """Images for the parity check: ``samples`` held-out images of the calibration data set
    (fewer when it holds fewer)."""
    data = options.data_for(source)
    if data.is_array and calibration is not None:
        return calibration.images[:samples], data.name
    held_out = calibration_set(data.name, source.preprocessing, samples, options.seed + 1,
                               split="test")
    return held_out.images, held_out.description["source"]


def save_reference(source: ModelSource, prepared: "Prepared", out_dir: Path) -> Path:
    """The file verify will use as the Keras reference: the source file itself when it reproduces
    the model (no output was removed, or it is a SavedModel's signature, which only the folder
    reproduces: verify leaves the removed outputs out, as the manifest records them); a
    subclassed model's export copied into ``out_dir`` (``<name>_signature``); else the
    (stripped, unfolded) model saved as ``<name>.keras`` in ``out_dir``."""
    if source.kind == "subclassed":  # its export, which runs without the user's code
        target = out_dir / f"{source.name}_signature"
        with atomic_path(target) as staging:
            shutil.copytree(source.reference_path, staging)
        return target
    if source.reference_path is not None and (not prepared.outputs_removed or
                                              source.kind == "signature"):
        return source.reference_path
    target = out_dir / f"{source.name}.keras"
    with atomic_path(target) as staging:
        prepared.model.save(staging)
    return target


def calibrate(source: ModelSource, options: ConvertOptions, log, messages: list):
    """The calibration images of an int8 conversion (None otherwise), saying which default was
    taken when the user named none."""
    if options.precision != "int8":
        return None
    data = options.data_for(source)
    if not data.named:
        note = (f"no calibration data given: calibrating on {options.calib_samples} images of "
                f"the offline '{data.name}' set ({DEFAULT_DATA_WORDS[data.name]}), resized to "
                "the model's input; pass --calib-data images:FOLDER for your own")
        messages.append(note)
        log(note)
    calibration = calibration_set(data.name, source.preprocessing, options.calib_samples,
                                  options.seed)
    note = calibration_note(calibration.description, options.calib_samples)
    if calibration.description["samples"] < options.calib_samples:
        messages.append(note)
        log(note)
    elif data.named:  # the default's own note said it already
        log(note)
    for note in calibration.description.get("notes", []):
        messages.append(note)
        log(note)
    return calibration


def prepare(source: ModelSource, options: ConvertOptions, images, log,
            rewrites_of: ConvertOptions | None = None) -> Prepared:
    """Strip, fold (checked on ``images``), simplify, the target's own rewrites (those of
    ``rewrites_of`` when given), detach the softmax and, with QAT, fine-tune: every graph pass
    before export, each reported."""
    keras3_path = source.framework == "keras3"
    model, strip_report = strip_training_heads(source.model, options.drop_outputs)
    log(strip_report.summary())
    kinds = output_kinds(model, options.output_kinds, images, source.labels)
    for note in one_value_notes(model, kinds, options.output_kinds):
        log(note)
    if len(kinds) > 1:
        log(f"{len(kinds)} outputs kept, each checked: "
            f"{', '.join(f'{name} ({kind})' for name, kind in kinds.items())}")
    export_model, fold_report, simplify_report = model, None, None
    skipped = dict(KERAS3_SKIPPED_PASSES) if keras3_path else {}
    # Folding before QAT is exact and leaves tfmot no BatchNorm to handle: its own BN handling
    # broke Dense+BN models (int8 accuracy 0.32 vs 0.98) and refuses BNs that follow no conv.
    if not keras3_path and options.fold:
        export_model, fold_report = fold_batchnorm(model, check_images=images)
        log(fold_report.summary())
    elif not keras3_path:
        skipped["fold_batchnorm"] = "--no-fold"
    if not keras3_path:
        export_model, simplify_report = centre_tap_convolutions(export_model)
        if simplify_report.layers:
            log(f"{len(simplify_report.layers)} convolution(s) over 1x1 maps "
                "reduced to their centre tap (exact)")
    rewrites = None
    if not keras3_path:  # diagnose's float twin takes the rewrites of the artifact it explains
        export_model, rewrites = apply_target_rewrites(export_model, rewrites_of or options,
                                                       images, log)
    softmax_report = None
    if options.detaches_softmax:
        export_model, softmax_report = detach_softmax(export_model)
        if softmax_report.postprocess:
            log(f"softmax of '{softmax_report.detached_from}' moved to post-processing "
                "(the artifact outputs logits)")
    prepared = Prepared(model, export_model, strip_report.outputs_removed, kinds, {
        "strip_report": strip_report.as_dict(),
        "fold_report": fold_report.as_dict() if fold_report else None,
        "softmax_report": softmax_report.as_dict() if softmax_report else None,
        "simplify_report": simplify_report.as_dict() if simplify_report else None,
        "target_rewrites": rewrites},
        skipped, softmax_report.postprocess if softmax_report else None)
    if options.qat:
        prepared.logits_model = export_model
        prepared.export_model, prepared.qat_data = qat_model_for(source, export_model, options, log)
    return prepared


def reference_outputs(prepared: Prepared, images) -> dict:
    """The unfolded model's outputs on the parity ``images``."""
    return KerasRunner(model=prepared.model).load().infer_all(images)


def check(staged: Path, prepared: Prepared, source: ModelSource, options: ConvertOptions,
          images, calibration, log, expected: dict | None = None) -> dict:
    """The staged artifact run on its own runtime against the unfolded model (its outputs on
    ``images``: ``expected``, computed here when None; with QAT, the accuracy report too): the
    parity record, with the runner that produced it."""
    qat = (qat_report(prepared.model, prepared.logits_model, staged, options, calibration,
                      prepared.qat_data, prepared.postprocess, log) if options.qat else None)
    runner = runner_that_runs(runner_for(staged), images, log)
    checked = {"runner": runner, "qat": qat,
               **compare_on(runner, prepared, source, options, images, expected)}
    if checked["failures"]:
        more, _ = parity_images(source, options, calibration, PARITY_CONFIRM_SAMPLES)
        if len(more) > len(images):
            log(f"parity fails on {len(images)} images; judging again on {len(more)}")
            checked.update(compare_on(runner, prepared, source, options, more))
    if getattr(options.target_options, "free_size", False):
        checked["other_size"] = check_other_size(runner, prepared, source, options, images)
        checked["failures"] += [f"at {checked['other_size']['size']}: {failure}"
                                for failure in checked["other_size"]["failures"]]
    return checked


def compare_on(runner, prepared: Prepared, source: ModelSource, options: ConvertOptions,
               images, expected: dict | None = None) -> dict:
    """Every output of the loaded ``runner`` against the unfolded model on ``images`` (its
    outputs: ``expected``, computed here when None): the verdicts and their failures. A file
    whose outputs are not the model's (fewer, more, a name twice, another shape) is an
    :class:`ArtifactMismatch` before any value is compared."""
    keras = KerasRunner(model=prepared.model).load()
    try:
        runner.load()
        require_model_outputs(keras.outputs, runner.outputs, f"the exported {options.to} file")
        produced = runner.infer_all(images)
    except (RuntimeError, ValueError) as exc:  # the converter wrote a file its runtime refuses
        raise ConversionError(f"the exported {options.to} file does not run on {runner.name}: "
                              f"{first_error_line(exc)}") from exc
    expected = keras.infer_all(images) if expected is None else expected
    order = list(expected)
    verdicts = compare_every_output(
        expected, produced, prepared.kinds, options.precision, source.trained,
        step=prepared.postprocess,
        roundoff=lambda name: float32_roundoff(prepared.model, images, expected[name],
                                               order.index(name)))
    return {"verdicts": verdicts, "failures": failures_of(verdicts)}


def check_other_size(runner, prepared: Prepared, source: ModelSource, options: ConvertOptions,
                     images) -> dict:
    """An artifact that keeps its input size free, checked at a second size (1.5 times the
    first): the same images resized, against the Keras model with a free input."""
    from deploytool.core.keras_env import tf
    from deploytool.sources.input_size import with_free_size

    height, width = images.shape[1:3]
    size = (height + height // 2, width + width // 2)
    resized = tf.image.resize(images, size).numpy().astype(np.float32)
    expected = KerasRunner(model=with_free_size(prepared.model)).infer_all(resized)
    verdicts = compare_every_output(expected, runner.infer_all(resized), prepared.kinds,
                                    options.precision, source.trained, step=prepared.postprocess)
    return {"size": f"{size[0]}x{size[1]}", "input_shape": [*size, int(images.shape[3])],
            "outputs": [verdict.as_dict() for verdict in verdicts],
            "failures": failures_of(verdicts)}


def preparation_key(options: ConvertOptions) -> str:
    """What the prepared model, the calibration and parity images of a conversion with
    ``options`` depend on: every setting but the layers kept float, the calibration method and
    count, where the file goes, and the target's settings that do not change the prepared model
    (:meth:`~deploytool.converters.targets.registry.ExportTarget.same_preparation`)."""
    from dataclasses import replace

    same = target(options.to).same_preparation(options)
    return repr(replace(same, keep_float=[], calibration_method="", calib_samples=0,
                        out_dir=Path(".")))


def convert(source: ModelSource, options: ConvertOptions, log=lambda message: None,
            extra: dict | None = None, remember: bool = True,
            reuse: Reuse | None = None) -> ConvertResult:
    """Convert ``source`` as ``options`` say; write the artifact (and its companion files) and
    its manifest (with ``extra`` records added) into ``options.out_dir``; return both.
    ``log(message)`` receives progress. With ``remember``, the artifact becomes what `deploytool
    verify` checks when named none (a trial conversion, such as the budget's, passes False).
    With ``reuse``, what the conversions of one search share is made once there
    (:mod:`deploytool.core.reuse`): the same file comes out either way."""
    options.check()
    if getattr(options.target_options, "free_size", False) and not source.free_input:
        raise UserError(f"--free-size keeps a free input size free, and {source.name}'s input is "
                        f"fixed at {','.join(map(str, source.preprocessing.input_shape))}")
    if options.qat and source.framework == "keras3":
        raise UserError("--qat needs the tf_keras path (tensorflow-model-optimization works on "
                        f"Keras 2 models only), and this model has no exact tf_keras twin: "
                        f"{source.framework_reason}; convert without --qat (PTQ int8 works)")
    messages = list(source.notes)
    for note in source.notes:
        log(note)
    started = time.perf_counter()
    # what attempts that differ only in layers kept float, calibration or int8 I/O share
    key = preparation_key(options)
    calibrated_key = (key, options.calib_samples)
    source = made_once(reuse, "source", key,
                       lambda: target(options.to).prepare_source(source, options, log))
    calibration = made_once(reuse, "calibration_images", calibrated_key,
                            lambda: calibrate(source, options, log, messages))
    images, images_source = made_once(
        reuse, "parity_images", calibrated_key if options.data_for(source).is_array else key,
        lambda: parity_images(source, options, calibration))
    prepared = made_once(reuse, "prepared", key, lambda: prepare(source, options, images, log))
    log(f"exporting {options.to} {options.precision}")
    exported = target(options.to).export(prepared.export_model, options.precision, calibration,
                                         options, reuse=reuse)
    exported, metadata = target(options.to).describe(exported, model_description(
        source, options, prepared), log)
    seconds = time.perf_counter() - started

    out_dir = Path(options.out_dir)
    artifact = out_dir / f"{source.name}_{options.precision}{target(options.to).suffix}"
    reference = save_reference(source, prepared, out_dir)
    # Checked on the staged files: if the QAT report or the parity check fails, nothing lands.
    with contextlib.ExitStack() as stack:
        staged = stack.enter_context(atomic_path(artifact))
        staged.write_bytes(exported.data)
        for suffix, data in exported.side_files.items():  # beside the staged file, as it reads them
            stack.enter_context(atomic_path(artifact.with_suffix(suffix))).write_bytes(data)
            staged.with_suffix(suffix).write_bytes(data)
        checked = check(staged, prepared, source, options, images, calibration, log,
                        expected=made_once(reuse, "reference_outputs", key,
                                           lambda: reference_outputs(prepared, images)))
    if "other_size" in checked:
        other = checked["other_size"]
        log(f"parity at a second size, {other['size']}: "
            + ("pass" if not other["failures"] else f"FAILS: {'; '.join(other['failures'])}"))
    for verdict in checked["verdicts"]:
        named = f"{verdict.name}: " if len(checked["verdicts"]) > 1 else ""
        count = verdict.figures["samples"] if verdict.figures else len(images)
        log(f"parity on {count} {images_source} images ({checked['runner'].name}): {named}"
            + (figures_text(verdict.figures) if verdict.figures else "not compared")
            + (f" - FAILS: {'; '.join(verdict.failures)}" if verdict.failures else ""))
    entry = record(artifact, exported, source, options, prepared, calibration, checked,
                   images_source, reference, seconds)
    manifest = Manifest.from_record(artifact, {**entry, "metadata": metadata, **(extra or {})})
    manifest.write()
    if remember:
        remember_last_convert([artifact])
    return ConvertResult(artifact, manifest, messages)


def place(artifact: Path, out_dir: Path, extra: dict | None = None,
          remember: bool = True) -> ConvertResult:
    """A converted ``artifact`` copied into ``out_dir`` as it is, byte for byte (the file that was
    judged is the file written): its companion files, the Keras reference saved beside it, and its
    manifest entry with ``extra`` records added. Each file lands by rename."""
    artifact = Path(artifact)
    manifest = Manifest.read(artifact)
    out_dir = Path(out_dir)
    names = [artifact.name, *(side["file"] for side in manifest.side_files.values())]
    for name in names:
        with atomic_path(out_dir / name) as staging:
            shutil.copyfile(artifact.parent / name, staging)
    reference, moved = manifest.reference, None
    if reference.parent == artifact.parent.resolve():  # saved by the conversion, not the user's
        moved = out_dir / reference.name
        with atomic_path(moved, directory=reference.is_dir()) as staging:
            if reference.is_dir():
                shutil.copytree(reference, staging, dirs_exist_ok=True)
            else:
                shutil.copyfile(reference, staging)
    placed = out_dir / artifact.name
    manifest = manifest.moved(placed, moved).with_records(**(extra or {}))
    manifest.write()
    if remember:
        remember_last_convert([placed])
    return ConvertResult(placed, manifest)
