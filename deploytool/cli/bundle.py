"""`deploytool bundle`: a .tflite with its labels, preprocessing and golden samples into the
Android demo app."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import dataset_name, json_option
from deploytool.cli.tables import print_table, stdout
from deploytool.workflows.bundle import DEFAULT_SAMPLES


@main.command("bundle", epilog=example("bundle"))
@click.argument("artifact", required=False, type=click.Path())
@click.option("--app", default="android_demo", show_default=True, type=click.Path(file_okay=False),
              help="The Android demo app project; the bundle goes to app/src/main/assets/bundle.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Write the bundle folder here instead of into --app.")
@click.option("--samples", default=DEFAULT_SAMPLES, show_default=True, type=int,
              help="Golden samples for the app's self-test.")
@click.option("--labels", "labels_file", type=click.Path(dir_okay=False),
              help="Labels, one per line (default: the manifest's).")
@click.option("--data", callback=dataset_name, help="Data set for the golden samples (default: the model's own, else digits).")
@json_option("the bundle's file list as JSON")
def bundle_command(artifact, app, out_dir, samples, labels_file, data, as_json):
    """Bundle a .tflite ARTIFACT (default: the last converted) into the Android demo app."""
    from deploytool.workflows.bundle import bundle

    report = bundle(artifact, out_dir, app, samples, labels_file, data)
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    print_table(f"deploytool bundle: {report.destination}", ("file", "size", "sha256"),
                ((name, f"{entry['size_bytes']:,} B", entry["sha256"][:16])
                 for name, entry in report.files.items()))
    expected = ", ".join(s["expected_top1"] for s in report.samples)
    stdout.print(f"{len(report.samples)} golden samples (expected top-1: {expected}); the app's "
                 f"self-test allows max abs {report.tolerance:.3g}")
    if report.agreement:
        from deploytool.core.runtime_agreement import Agreement

        for found in report.agreement:
            stdout.print(f"expected outputs from {report.runtime} (the app's LiteRT, emulated "
                         f"ARM64), {Agreement(**found).note()}")
    for note in report.notes:
        stdout.print(note)
