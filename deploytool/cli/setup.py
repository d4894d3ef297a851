"""`deploytool setup`: install the environments of their own that some runtimes need."""

from __future__ import annotations

import click

from deploytool.cli.help_texts import example
from deploytool.cli.main import main
from deploytool.cli.tables import progress, stdout


@main.command("setup", epilog=example("setup"))
@click.option("--force", is_flag=True, help="Install every environment again, from scratch.")
def setup_command(force):
    """Install the Python environments of their own that deploytool runs some libraries in
    (MediaPipe, whose OpenCV cannot share deploytool's): part of the README's set-up."""
    from deploytool.core.environments import ENVIRONMENTS, location, setup

    states = setup(force=force, log=progress())
    for name, state in states.items():
        stdout.print(f"{name}: {state} ({location(name)}): {ENVIRONMENTS[name].purpose}")
