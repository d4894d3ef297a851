"""How every command prints: the two consoles, a table from rows, a two-column field list and the
progress line a workflow's ``log`` callback writes. Commands build rows; the rendering is here."""

from __future__ import annotations

import sys
from typing import Iterable

from rich.console import Console
from rich.table import Table

# Piped output gets the full table width instead of rich's 80-column default.
stdout = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def print_table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[str]],
                right: Iterable[str] = ()) -> None:
    """A table of ``rows`` under ``columns`` on stdout, the ``right`` columns right-aligned."""
    right = set(right)
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)


def print_fields(fields: Iterable[tuple[str, str]]) -> None:
    """Name/value pairs as two borderless columns on stdout."""
    table = Table(show_header=False, box=None)
    for name, value in fields:
        table.add_row(name, value)
    stdout.print(table)


def progress(prefix: str = "[dim]·[/dim]", style: str | None = None):
    """A ``log(message)`` callback for a workflow: one dim line per message on stderr, never
    wrapped by the console (piped to a file, a long message stays one line that starts with
    the prefix; a terminal wraps it itself)."""
    if style:
        return lambda message: stderr.print(f"[{style}]{prefix} {message}[/{style}]", soft_wrap=True)
    return lambda message: stderr.print(f"{prefix} {message}", soft_wrap=True)


def status(value: str) -> str:
    """pass/fail/n/a coloured, for a result column."""
    style = {"pass": "green", "fail": "bold red", "n/a": "yellow"}.get(value)
    return f"[{style}]{value.upper()}[/{style}]" if style else value
