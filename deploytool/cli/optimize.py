"""`deploytool optimize`: the fastest artifact that keeps an accuracy budget on one runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import (budget_options, dataset_name, json_option,
                                    model_source_options, preprocess_options, refuse_unless)
from deploytool.cli.tables import print_table, progress, stdout
from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import targets
from deploytool.core.errors import UserError
from deploytool.runtimes.base import DEFAULT_THREADS, artifact_runtimes


@main.command("optimize", epilog=example("optimize"), help=(
    "The fastest artifact of MODEL (zoo name, run folder or model file) that keeps an accuracy "
    "budget on RUNTIME, measured on this machine: fp32, fp16, dynamic range and int8 (within the "
    "budget where plain int8 misses it) are built, judged on held-out images and timed; the "
    "fastest that meets the budget is written, with a report, a Pareto chart and JSON."))
@click.argument("model")
@click.option("--runtime", required=True, type=click.Choice(artifact_runtimes()),
              help="The runtime you ship with: candidates are judged and timed on it.")
@click.option("--to", "to", type=click.Choice(list(targets())),
              help="The format to build (default: the one made for the runtime; OpenCV: onnx).")
@budget_options
@click.option("--calib-data", callback=dataset_name,
              help="Calibration and held-out data (as convert's); default: the run's data, else "
                   "digits (grey models) or photos (colour).")
@click.option("--calib-samples", default=ConvertOptions.calib_samples, show_default=True, type=int)
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(min=1))
@click.option("--runs", default=20, show_default=True, type=click.IntRange(min=1),
              help="Timed calls per candidate.")
@click.option("--out", "out_dir", default=str(ConvertOptions.out_dir), show_default=True,
              type=click.Path(file_okay=False))
@model_source_options
@click.option("--seed", default=ConvertOptions.seed, show_default=True, type=int)
@preprocess_options
@json_option("the report as JSON")
def optimize_command(model, runtime, to, budget, calib_data, calib_samples, threads, runs,
                     out_dir, source_args, seed, preprocess, as_json):
    """Build, judge and time every candidate; write the fastest within the budget."""
    from deploytool.models import list_models
    from deploytool.sources.model_source import load_source
    from deploytool.workflows.quantization.optimize import candidate_figures_text, optimize, report_json

    if budget is None:
        raise UserError("optimize keeps the fastest artifact within an accuracy budget: give "
                        "--max-drop POINTS, --min-cosine C or --min-agreement F")
    refuse_unless(model in list_models() or not Path(model).exists(), ("num_classes", "width"),
                  f"applies to zoo models, and {model} is not one (a model file or run folder "
                  "brings its own)")
    source = load_source(model, **source_args, seed=seed, preprocess=preprocess)
    report = optimize(source, runtime, budget, to, calib_data, calib_samples, out_dir, seed,
                      threads, runs, log=progress())
    if as_json:
        click.echo(report_json(report))
    else:
        labelled = any("top1_drop_points" in c.figures for c in report.candidates)
        print_table(f"deploytool optimize: {report.model} on {runtime} ({report.format}), "
                    f"{report.budget}, {report.held_out_images} held-out images, {threads} "
                    f"thread{'s' if threads > 1 else ''}",
                    ("candidate", "size", "median", "p90", "figures", "budget"),
                    ((("* " if c.chosen else "") + c.label, f"{c.size_bytes / 1e6:.2f} MB",
                      f"{c.median_ms:.3f} ms" if c.median_ms is not None else "fails",
                      f"{c.p90_ms:.3f} ms" if c.p90_ms is not None else "-",
                      candidate_figures_text(c, labelled), c.judgement.verdict)
                     for c in report.candidates), right=("size", "median", "p90"))
        stdout.print(f"chosen: {report.chosen.label} ({report.reason}): {report.result.artifact}")
        stdout.print(f"report: {report.files['markdown']}, chart: {report.files['chart']}")
    if not report.chosen.judgement.met:
        click.echo(f"deploytool: no candidate meets the budget ({report.budget}); fp32 is written",
                   err=True)
        sys.exit(1)
