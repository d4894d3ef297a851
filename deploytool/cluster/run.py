"""`run_cells`: a page's cells, each computed once for its inputs, on Ray or one after another.

    results = run_cells(cells, "artifacts/matrix")                      # a local Ray instance
    results = run_cells(cells, "artifacts/matrix", address="10.0.0.5:6379")  # a cluster
    results = run_cells(cells, "artifacts/matrix", serial=True)         # here, in turn

Results come back to this process (the driver) and are kept in ``folder/cells`` under each
cell's input hash; the page is rendered from them, so it is the same whichever way they ran.
"""

from __future__ import annotations

from deploytool.cluster.cells import Cell, CellResult, cached_result, forget, keep
from deploytool.cluster.tally import Tally
from deploytool.core.errors import UserError


def run_cells(cells: list[Cell], folder, address: str | None = None, serial: bool = False,
              fresh: bool = False, log=lambda message: None,
              progress=lambda done, total, label: None) -> dict[str, CellResult]:
    """Every cell's result, by label, in the cells' order: kept ones reused (``fresh`` forgets
    them), the others computed on Ray (``address``: a cluster's; None: a local instance) or,
    with ``serial``, one after another here. A cell that fails is in the results with its error,
    and is computed again next time."""
    labels = [cell.label for cell in cells]
    if len(set(labels)) != len(labels):
        raise UserError(f"two cells share a label: {sorted({l for l in labels if labels.count(l) > 1})}")
    if fresh:
        forget(folder)
    tally = Tally(len(cells), log, progress)
    results, missing = {}, []
    for cell in cells:
        kept = cached_result(folder, cell)
        if kept is None:
            missing.append(cell)
        else:
            results[cell.label] = kept
            tally.reuse(kept)
    if tally.reused:
        log(f"{tally.reused} of {len(cells)} cells kept from an earlier run with the same inputs")

    def on_result(cell: Cell, result: CellResult) -> None:
        result.tries = max(result.tries, tally.starts.get(cell.label, 1))
        keep(folder, cell, result)
        results[cell.label] = result
        tally.finished(result)
        if not result.ok and result.printed:
            log(f"{cell.label}: its last output: {result.printed.strip().splitlines()[-1][:200]}")

    if missing and serial:
        from deploytool.cluster.serial import run_serially

        run_serially(missing, tally, on_result)
    elif missing:
        from deploytool.cluster.ray_cluster import run_on_ray

        run_on_ray(missing, tally, on_result, address)
    return {label: results[label] for label in labels}
