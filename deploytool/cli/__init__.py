"""The `deploytool` command line: it parses arguments, calls the API in
:mod:`deploytool.workflows` and :mod:`deploytool.reports`, and prints; no work happens here.

One module per command, each registering itself on the group in :mod:`.main` (which also turns
every failure into one line); options shared by several commands are in :mod:`.options` (target
flags and runtime choices come from the registries), and every table is rendered by
:mod:`.tables`.
"""

from deploytool.cli import (bench, bundle, convert, diagnose,  # noqa: F401 - each registers
                            inspect, matrix, models, optimize, own_models, run, setup,
                            train, verify)
from deploytool.cli.main import main

__all__ = ["main"]
