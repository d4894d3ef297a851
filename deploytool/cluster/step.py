"""What a worker does with a cell's step: the function in a child process of its own, with the
cell's time limit; a crash is tried once more (hours of converting in one process have ended in
glibc heap-corruption aborts that no model reproduces alone), then it is the answer."""

from __future__ import annotations

import time

from deploytool.core.child import call_in_child

PRINTED_TAIL = 4000  # characters of the child's output kept with the result


def run_step(function: str, args: list, timeout: float | None, die_with_parent: bool = True) -> dict:
    """``function(*args)`` in a child process: ``{"ok", "value", "error", "printed", "seconds"}``.
    With ``die_with_parent`` the child is killed when the calling process ends (a worker killed
    mid-cell leaves nothing computing on)."""
    started = time.perf_counter()
    for _ in range(2):
        answer = call_in_child(function, *args, timeout=timeout, die_with_parent=die_with_parent)
        if answer.kind != "crash":
            break
    return {"ok": answer.ok, "value": answer.value,
            "error": None if answer.ok else f"{answer.kind}: {answer.error}",
            "printed": (answer.stdout or "")[-PRINTED_TAIL:],
            "seconds": time.perf_counter() - started}
