"""`deploytool convert`: a model to one artifact, with its manifest (within an accuracy budget
when one is given)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from deploytool.cli.help_texts import example, formats_text
from deploytool.cli.main import main
from deploytool.cli.options import (budget_options, dataset_name, json_option,
                                    model_source_options, option_group, preprocess_options,
                                    refuse_unless, target_options)
from deploytool.cli.tables import print_fields, progress
from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import calibration_methods, targets
from deploytool.core.errors import UserError
from deploytool.core.output_parity import figures_text


def calibration_options(function):
    """--calib-data, --calib-samples and --calibration-method, given as ``calibration``: how
    int8 is calibrated (ConvertOptions' fields)."""
    return option_group("calibration", [
        click.option("--calib-data", callback=dataset_name, help="Calibration data: images:FOLDER (a plain folder of your images), a data set (digits, photos, mnist, folder:PATH) or a .npy of preprocessed images. Default: the run's data, else digits (grey models) or photos (colour)."),
        click.option("--calib-samples", default=ConvertOptions.calib_samples, show_default=True, type=int),
        click.option("--calibration-method", type=click.Choice(calibration_methods()),
                     default=ConvertOptions.calibration_method, show_default=True,
                     help="int8 calibrator (" + "; ".join(
                         f"{t.label}: {', '.join(t.calibration_methods)}" for t in targets().values()
                         if "int8" in t.precisions) + ")."),
    ])(function)


def graph_options(function):
    """--drop-output, --output-kind, --no-fold and --keep-softmax, given as ``graph``: what the
    artifact keeps of the model's graph (ConvertOptions' fields)."""
    def make(drop_outputs, output_kinds, no_fold, keep_softmax):
        from deploytool.converters.outputs import parse_output_kinds

        return {"drop_outputs": list(drop_outputs), "output_kinds": parse_output_kinds(output_kinds),
                "fold": not no_fold, "keep_softmax": keep_softmax}

    return option_group("graph", [
        click.option("--drop-output", "drop_outputs", multiple=True, metavar="NAME",
                     help="Leave this output of the model out of the artifact (repeatable); every "
                          "other output is kept."),
        click.option("--output-kind", "output_kinds", multiple=True, metavar="NAME=KIND",
                     help="How an output is judged where the guess from its layer is wrong "
                          "(repeatable): scores, regression, embedding or dense."),
        click.option("--no-fold", is_flag=True, help="Do not fold BatchNorm at the Keras level."),
        click.option("--keep-softmax/--detach-softmax", default=None,
                     help="Keep a final softmax in the file, or move it to post-processing (the "
                          "file outputs logits). Default: kept in float files, detached from "
                          "int8 ones, whose softmax output would have 256 levels."),
    ], make=make)(function)


@main.command("convert", epilog=example("convert"), help=(
    f"Convert MODEL (zoo name, run folder or model file) to {formats_text()}, with a manifest; "
    "int8 within an accuracy budget when one is given."))
@click.argument("model")
@click.option("--to", "to", type=click.Choice(list(targets())), default=ConvertOptions.to,
              show_default=True)
@click.option("--int8", "precisions", flag_value="int8", multiple=True,
              help="Full integer int8 (calibrated).")
@click.option("--fp16", "precisions", flag_value="fp16", multiple=True, help="Float16 weights (TFLite).")
@click.option("--dynamic", "precisions", flag_value="dynamic", multiple=True,
              help="Dynamic-range int8 weights (TFLite).")
@click.option("--qat", is_flag=True, help="Quantization-aware fine-tuning (tfmot) before full-int8 TFLite export.")
@click.option("--qat-epochs", default=ConvertOptions.qat_epochs, show_default=True, type=int)
@click.option("--out", "out_dir", default=str(ConvertOptions.out_dir), show_default=True,
              type=click.Path(file_okay=False))
@calibration_options
@graph_options
@model_source_options
@click.option("--seed", default=ConvertOptions.seed, show_default=True, type=int)
@click.option("--custom-objects", type=click.Path(dir_okay=False), metavar="FILE.py",
              help="The Python file that defines the model's own layer or model classes (a "
                   "subclassed model's); it is run, so it needs --unsafe.")
@preprocess_options
@budget_options
@target_options
@json_option("the manifest as JSON")
def convert_command(model, to, precisions, qat, qat_epochs, out_dir, calibration, graph,
                    source_args, seed, custom_objects, preprocess, budget, target_values, as_json):
    """Convert MODEL to one artifact, with its manifest (help: the registry's formats)."""
    from deploytool.models import list_models
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.conversion.convert import convert

    if len(set(precisions)) > 1:
        raise UserError(f"{' and '.join('--' + p for p in dict.fromkeys(precisions))} conflict: "
                        "give one precision")
    precision = precisions[0] if precisions else None
    int8 = precision == "int8" or qat
    refuse_unless(int8, ("calib_data", "calib_samples", "calibration_method"),
                  f"applies to int8 conversions (it sets how int8 is calibrated), and this one is "
                  f"{precision or 'fp32'}: add --int8")
    refuse_unless(qat, ("qat_epochs",), "applies with --qat")
    refuse_unless(model in list_models() or not Path(model).exists(), ("num_classes", "width"),
                  f"applies to zoo models, and {model} is not one (a model file or run folder "
                  "brings its own)")
    options = ConvertOptions.create(
        to, **target_values, precision=precision or ("int8" if qat else "fp32"), qat=qat,
        qat_epochs=qat_epochs, **calibration, **graph, out_dir=out_dir, seed=seed)
    options.check()
    source = load_source(model, **source_args, seed=seed, preprocess=preprocess,
                         custom_objects=custom_objects)
    if budget is not None:
        from deploytool.workflows.quantization.budget import budgeted_convert

        result = budgeted_convert(source, options, budget, progress())
    else:
        result = convert(source, options, log=progress())
    if as_json:
        click.echo(json.dumps(result.manifest.record, indent=2))
    else:
        print_fields(result_fields(result))
    if result.manifest.precision != "fp32":
        from deploytool.workflows.measuring.bench import against_float_sibling

        for line in against_float_sibling(result.artifact):
            click.echo(line, err=as_json)
    parity = result.manifest.parity
    if not result.manifest.parity_passed and not result.manifest.budget:  # a budget is judged by itself
        click.echo(f"deploytool: the parity check failed ({'; '.join(parity['failures'])}, on "
                   f"{parity_sample_count(parity)} {parity['images']} images); the artifact is "
                   f"written without claiming parity (manifest: {result.artifact}.json); "
                   "`deploytool verify` judges it on more images", err=True)
        sys.exit(1)
    budget_record = result.manifest.budget
    if budget_record and not budget_record["met"]:
        click.echo(f"deploytool: the budget is {budget_record['verdict']} "
                   f"({budget_record['budget']}); the artifact is written without claiming it "
                   f"(manifest: {result.artifact}.json)", err=True)
        sys.exit(1)


def parity_sample_count(parity: dict) -> int | str:
    """How many images the parity check compared (from the first output that has figures)."""
    return next((o["figures"]["samples"] for o in parity["outputs"] if o["figures"]), "the")


def result_fields(result) -> list[tuple[str, str]]:
    """What convert prints of a written artifact: file, size, digest, time, path, input,
    parity, and the QAT and budget reports where there are any."""
    manifest = result.manifest
    parity, path = manifest.parity, manifest.conversion_path
    fields = [
        ("artifact", str(result.artifact)),
        ("size", f"{manifest.size_bytes / 1e6:.2f} MB"),
        ("sha256", manifest.sha256),
        ("conversion", f"{manifest.conversion_seconds:.1f} s"),
        ("path", f"{path['framework']} ({path['exporter']})" +
         (f"; not run: {', '.join(path['passes_skipped'])}" if path["passes_skipped"] else "")),
        ("input", manifest.preprocessing.describe())]
    outputs = parity["outputs"]
    for output in outputs:
        figures = output["figures"]
        words = figures_text(figures) if figures else "; ".join(output["failures"])
        fields.append(("parity" if len(outputs) == 1 else f"parity {output['name']}",
                       f"{'pass' if output['passed'] else 'FAIL'} "
                       + (f"({output['kind']}) " if len(outputs) > 1 else "")
                       + (f"on {figures['samples']} " if figures else "")
                       + f"{parity['images']} images ({parity['runtime']}): {words}"))
    if manifest.qat_report:
        report = manifest.qat_report
        fields.append(("accuracy", f"float {report['float_accuracy']:.4f}, QAT int8 "
                                   f"{report['qat_int8_accuracy']:.4f}, PTQ int8 after the same "
                                   f"fine-tuning {report['ptq_int8_accuracy_after_same_finetuning']:.4f}"))
    if manifest.budget:
        budget = manifest.budget
        floats = budget["layers_in_float"]
        fields.append(("budget", f"{budget['verdict'] if budget['met'] else budget['verdict'].upper()} "
                                 f"({budget['budget']}, on {budget['held_out_images']} held-out "
                                 f"images) by {budget['chosen']}" +
                       (f": {len(floats)} layer(s) in float, size {budget['size_cost']:+.0%}, "
                        f"latency {budget['latency_cost']:+.0%}" if floats else "")))
    fields.append(("manifest", str(result.artifact) + ".json"))
    return fields
