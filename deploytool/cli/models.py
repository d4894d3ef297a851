"""`deploytool models`: the zoo's figures."""

from __future__ import annotations

import json

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.options import json_option, parse_shape, width_option
from deploytool.cli.tables import print_table, stderr


@main.command("models", epilog=example("models"))
@click.argument("names", nargs=-1)
@click.option("--input-shape", default="224,224,3", callback=parse_shape, show_default=True,
              help="HEIGHT,WIDTH,CHANNELS the figures are computed at.")
@click.option("--num-classes", default=1000, show_default=True, type=click.IntRange(min=1))
@width_option(help="Channel-width multiplier.")
@json_option("JSON instead of a table")
def models_command(names, input_shape, num_classes, width, as_json):
    """List the model zoo (or NAMES): parameters, MACs, BN layers to fold, training-only heads."""
    from deploytool.workflows.zoo import describe_zoo

    with stderr.status("building models") as status:
        rows = describe_zoo(names, input_shape, num_classes, width,
                            on_model=lambda name: status.update(f"building {name}"))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return

    def cells(row):
        reference = row["reference_params"]
        extras = [*row["training_only_outputs"]]
        if row["dropout_layers"]:
            extras.append(f"{row['dropout_layers']} dropout")
        return (row["name"], row["family"], f"{row['params']:,}",
                f"{reference:,}" if reference else "-", f"{row['macs'] / 1e6:,.0f} M",
                str(row["batchnorm_layers"]), ", ".join(extras) or "-")

    print_table(f"deploytool model zoo at {'x'.join(map(str, input_shape))}, {num_classes} "
                f"classes, width {width:g}",
                ("model", "family", "params", "reference", "MACs", "BN to fold", "training-only"),
                map(cells, rows), right=("params", "reference", "MACs", "BN to fold"))
