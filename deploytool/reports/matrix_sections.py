"""Sections every matrix page shares (the trained and random zoo pages, own-models, the output
cases): the versions and CPU line, the files a client declined, the cells only a runtime's other
variant ran, and the count of passing cells."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from deploytool.core.manifest import tool_versions
from deploytool.runtimes.base import artifact_runtimes, runners

RUNTIME_NAMES = {name: runner.label for name, runner in runners().items()
                 if name in artifact_runtimes()}

def cpu_words(cpuinfo: str | None = None) -> str:
    """The CPU a page's figures come from, as far as its int8 figures depend on it: core count,
    model name and whether it has VNNI (without it ONNX Runtime's u8s8 int8 kernels saturate
    16-bit sums); ``cpuinfo`` is /proc/cpuinfo's text (read when None)."""
    import os
    import re

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    name = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M)
    words = f"{os.cpu_count()} CPU cores"
    if name:
        words += f" ({name.group(1).strip()}"
        if flags:
            vnni = set(flags.group(1).split()) & {"avx512_vnni", "avx_vnni", "amx_int8"}
            words += ", with VNNI" if vnni else ", without VNNI"
        words += ")"
    return words


def versions_line(seconds: float | None) -> str:
    """The library versions and when and how fast a page was generated (``seconds`` None: the
    page was assembled from cells computed by several processes, so no one time is its own)."""
    versions = tool_versions()
    took = f" in {seconds / 60:.0f} min" if seconds is not None else ""
    return (f"Versions: TensorFlow {versions['tensorflow']}, Keras {versions.get('keras')}, "
            f"tf2onnx {versions['tf2onnx']}, ONNX Runtime {versions['onnxruntime']}, OpenCV "
            f"{versions['opencv-python-headless']}, LiteRT {versions['ai-edge-litert']}. Generated "
            f"{datetime.now(timezone.utc):%Y-%m-%d}{took} on {cpu_words()}.")


REFUSED_MARK = "🚫 not taken"


def refused_lines(cells: list[dict]) -> list[str]:
    """The files a client library declined, each reason once with the cells it covers: not
    failures (the file computes what it should), but what an app using that client would meet."""
    refused = [c for c in cells if c["status"] == "refused"]
    if not refused:
        return []
    by_reason = {}
    for cell in refused:
        reason = (cell["why"] or "").split(": ")[-1]  # the client's own words, not the file name
        by_reason.setdefault((cell["runtime"], reason), []).append(
            f"{cell['model']} · {cell['artifact']}")
    lines = ["## Files a client does not take", "",
             f"{REFUSED_MARK}: the client library declines the file, for its own reason. Not a "
             "failure: the file computes what the model does on every runtime that runs it.", ""]
    for (runtime, reason), where in by_reason.items():
        lines.append(f"- **{RUNTIME_NAMES[runtime]}** ({len(where)}: {', '.join(where)}): {reason}")
    return [*lines, ""]


def variant_lines(cells: list[dict]) -> list[str]:
    """The cells a runtime ran only in a variant other than its default (TensorFlow with
    oneDNN turned on), each with what the default answered: what a stock install of that
    runtime on this CPU meets. OpenCV's engines are named in their cells and left out here."""
    by_reason = {}
    for cell in cells:
        if cell.get("passed_over") and cell["runtime"] != "opencv":
            key = (cell["runtime"], cell.get("engine"), "; ".join(cell["passed_over"]))
            by_reason.setdefault(key, []).append(f"{cell['model']} · {cell['artifact']}")
    if not by_reason:
        return []
    lines = ["## Cells only a runtime's other variant ran", ""]
    for (runtime, engine, reason), where in by_reason.items():
        lines.append(f"- **{RUNTIME_NAMES[runtime]}** ran {len(where)} file(s) only as {engine} "
                     f"({', '.join(where)}); its {reason}")
    return [*lines, ""]


def count_summary(cells: list[dict]) -> str:
    """"P of R runnable cells pass", and how many files a client declined."""
    passed = sum(c["status"] == "pass" for c in cells)
    runnable = sum(c["status"] in ("pass", "fail") for c in cells)
    refused = sum(c["status"] == "refused" for c in cells)
    return f"{passed} of {runnable} runnable cells pass" + (
        f"; {refused} file{'s' if refused != 1 else ''} a client does not take" if refused else "")
