"""Progress across the cells of a run: how many are done, running, failed and waiting, and on
which node each one started and ended."""

from __future__ import annotations

from deploytool.cluster.cells import CellResult


class Tally:
    """Counts the cells of one run and says each change through ``log``."""

    def __init__(self, total: int, log=lambda message: None, progress=lambda done, total, label: None):
        self.total, self.log, self.progress = total, log, progress
        self.running: dict[str, str] = {}
        self.starts: dict[str, int] = {}  # how many times each cell's first step began
        self.done = self.failed = self.reused = 0

    def counts(self) -> str:
        """"3 done, 2 running, 0 failed, 4 waiting"."""
        waiting = self.total - self.done - self.failed - len(self.running)
        return (f"{self.done} done, {len(self.running)} running, {self.failed} failed, "
                f"{waiting} waiting")

    def reuse(self, result: CellResult) -> None:
        """A cell whose result was kept from an earlier run."""
        self.done += 1
        self.reused += 1
        self.progress(self.done + self.failed, self.total, result.label)

    def started(self, label: str, node: str, step: str = "") -> None:
        """A cell (or its timing step) began on ``node``; a first step that begins again is a
        retry (its worker was lost, and Ray ran it again)."""
        again = label in self.running and step != "timing"
        self.running[label] = node
        if step != "timing":
            self.starts[label] = self.starts.get(label, 0) + 1
        word = "started again (its worker was lost)" if again else (step or "started")
        self.log(f"{label}: {word} on {node} ({self.counts()})")

    def retried(self, label: str, why: str) -> None:
        """A cell's worker or node was lost and the cell goes again."""
        self.running.pop(label, None)
        self.log(f"{label}: lost ({why}); trying again ({self.counts()})")

    def finished(self, result: CellResult) -> None:
        """A cell ended, well or not."""
        self.running.pop(result.label, None)
        if result.ok:
            self.done += 1
        else:
            self.failed += 1
        verdict = "done" if result.ok else f"failed ({result.error})"
        self.log(f"{result.label}: {verdict} on {result.node} in {result.seconds:.0f} s"
                 f"{f' after {result.tries} tries' if result.tries > 1 else ''} ({self.counts()})")
        self.progress(self.done + self.failed, self.total, result.label)
