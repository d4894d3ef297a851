"""Cells one after another on this machine (``--serial``): each step in a child process of its
own, exactly as a Ray worker runs it, with nothing else of the run beside a timing step."""

from __future__ import annotations

import platform

from deploytool.cluster.cells import Cell, CellResult
from deploytool.cluster.step import run_step
from deploytool.cluster.tally import Tally


def run_serially(cells: list[Cell], tally: Tally, on_result) -> None:
    """Run ``cells`` in turn; ``on_result(cell, CellResult)`` as each ends."""
    node = f"{platform.node()} (this machine)"
    for cell in cells:
        tally.started(cell.label, node)
        answer = run_step(cell.function, list(cell.args), cell.timeout, die_with_parent=False)
        seconds = answer["seconds"]
        if answer["ok"] and cell.timing:
            tally.started(cell.label, node, "timing")
            answer = run_step(cell.timing, [answer["value"], *cell.args], cell.timeout,
                              die_with_parent=False)
            seconds += answer["seconds"]
        on_result(cell, CellResult(cell.label, answer["ok"], answer["value"], answer["error"],
                                   node, seconds, printed=answer["printed"]))
