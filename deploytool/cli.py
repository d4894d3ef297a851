"""The `deploytool` command line: parses arguments, calls the API, prints. No work happens here."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from .errors import UserError

# Piped output gets the full table width instead of rich's 80-column default.
stdout = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True)


class DeploytoolGroup(click.Group):
    """Turns every failure into one line on stderr: bad input exits 2, an interrupt 130, a bug 1.
    ``--debug`` lets the traceback through instead."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except UserError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"deploytool: error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("deploytool: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug of ours: still one line unless --debug
            if ctx.params.get("debug"):
                raise
            first_line = (str(exc).strip().splitlines() or [""])[0]
            click.echo(f"deploytool: internal error: {type(exc).__name__}: {first_line} "
                       "(run with --debug for the traceback)", err=True)
            ctx.exit(1)


def parse_shape(ctx, param, value):
    """Click callback: "224,224,3" -> (224, 224, 3)."""
    if value is None:
        return None
    try:
        shape = tuple(int(part) for part in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter(f"expected HEIGHT,WIDTH,CHANNELS, got {value!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise click.BadParameter(f"expected three positive sizes HEIGHT,WIDTH,CHANNELS, got {value!r}")
    return shape


@click.group(cls=DeploytoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="deploytool")
def main(debug):
    """deploytool: classic CNNs from a Keras definition to a verified on-device model."""


@main.command("models")
@click.argument("names", nargs=-1)
@click.option("--input-shape", default="224,224,3", callback=parse_shape, show_default=True,
              help="HEIGHT,WIDTH,CHANNELS the figures are computed at.")
@click.option("--num-classes", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--width", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Channel-width multiplier.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_command(names, input_shape, num_classes, width, as_json):
    """List the model zoo (or NAMES): parameters, MACs, BN layers to fold, training-only heads."""
    from .zoo import describe_zoo

    with stderr.status("building models") as status:
        rows = describe_zoo(names, input_shape, num_classes, width,
                            on_model=lambda name: status.update(f"building {name}"))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"deploytool model zoo at {'x'.join(map(str, input_shape))}, "
                        f"{num_classes} classes, width {width:g}")
    for column in ("model", "family", "params", "reference", "MACs", "BN to fold",
                   "training-only"):
        table.add_column(column, justify="right" if column in ("params", "reference", "MACs",
                                                               "BN to fold") else "left")
    for row in rows:
        reference = row["reference_params"]
        extras = [*row["training_only_outputs"]]
        if row["dropout_layers"]:
            extras.append(f"{row['dropout_layers']} dropout")
        table.add_row(row["name"], row["family"], f"{row['params']:,}",
                      f"{reference:,}" if reference else "-", f"{row['macs'] / 1e6:,.0f} M",
                      str(row["batchnorm_layers"]), ", ".join(extras) or "-")
    stdout.print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
