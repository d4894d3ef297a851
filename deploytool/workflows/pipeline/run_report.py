"""What `deploytool run` shows of a run folder: the Markdown report with its parity plot, and
the summary rows the command prints (artifact, runtime, pass, accuracy, latency)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from deploytool.core.compare import proportion_text
from deploytool.workflows.pipeline.run_state import RunState


def plot_parity(rows: list[dict], path: Path, tolerances: dict | None = None) -> None:
    """Per artifact, output and runtime, as a PNG: 1 - worst cosine, max abs error and top-1
    agreement with its 95 % interval, each bar green (pass) or red (fail), with a black tick at
    the bar that row is judged by (``tolerances``: verify's, by artifact) and the figures no bar
    judges drawn pale, so that a passing int8 cell's larger error reads as what it is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    tolerances = tolerances or {}
    measured = [row for row in rows if row["figures"]]
    labels = [f"{row['artifact']}{' · ' + row['output'] if row.get('output') else ''}\n{row['backend']}"
              for row in measured]
    figure, axes = plt.subplots(1, 3, figsize=(14, 0.5 * len(measured) + 2.6), sharey=True)
    colour = {"pass": "tab:green", "fail": "tab:red"}
    panels = (("min_cosine", "1 - worst cosine (lower is better)", lambda f: 1 - f + 1e-9, "log"),
              ("max_abs", "max abs error (lower is better)", lambda f: f + 1e-12, "log"),
              ("top1_agreement", "top-1 agreement with float, 95 % interval", lambda f: f, "linear"))
    bar_of = {"min_cosine": ("min_cosine", lambda b: 1 - b), "max_abs": ("max_abs", lambda b: b),
              "top1_agreement": ("min_top1_agreement", lambda b: b)}
    for axis, (key, title, value, scale) in zip(axes, panels):
        for index, row in enumerate(measured):
            figure_value = row["figures"].get(key)
            if figure_value is None:
                continue
            criterion, where = bar_of[key]
            bar = (tolerances.get(row["artifact"]) or {}).get(criterion)
            axis.barh(index, value(figure_value), color=colour.get(row["status"], "tab:grey"),
                      alpha=1.0 if bar is not None else 0.35)
            if bar is not None:
                axis.plot([where(bar)] * 2, [index - 0.45, index + 0.45], color="black", lw=2)
            interval = row["figures"].get(f"{key}_interval")
            if interval:
                axis.plot(interval, [index, index], color="black", lw=1)
        axis.set(xscale=scale, xlabel=title)
        if key == "top1_agreement":
            axis.set_xlim(0, 1.02)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(measured)), labels)
    axes[0].invert_yaxis()
    figure.legend(handles=[Patch(color="tab:green", label="pass"), Patch(color="tab:red", label="fail"),
                           Patch(color="tab:green", alpha=0.35, label="shown, not judged"),
                           Line2D([], [], color="black", lw=2, label="the bar this row is judged by"),
                           Line2D([], [], color="black", lw=1, label="95 % interval")],
                  loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=5, fontsize=8,
                  frameon=False)
    figure.suptitle("parity with the Keras reference", y=0.99)
    figure.tight_layout(rect=(0, 0, 1, 0.86))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def render_report(folder: Path, state: RunState) -> str:
    """The run's Markdown report: training, artifacts, parity and latency tables, and plots."""
    lines = [f"# deploytool run: {folder.name}", "",
             f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.", ""]
    training = state.result("train")
    if training.get("test_accuracy") is not None:
        lines += ["## Training", "", f"`{training['model']}` on `{training['data']}`: test accuracy "
                  f"{training['test_accuracy']:.4f} after {len(training['epochs'])} epochs, "
                  f"{training['wall_seconds']:.0f} s, {training['images_per_second']:.0f} images/s.",
                  "", f"![training curves]({training['model']}/training_curves.png)", ""]
    lines += ["## Artifacts", "", "| artifact | size | sha256 | conversion |", "|---|---:|---|---:|"]
    for entry in state.result("convert"):
        lines.append(f"| {entry['file']} | {entry['size_bytes'] / 1e6:.2f} MB | `{entry['sha256'][:16]}…` "
                     f"| {entry['conversion_seconds']:.1f} s |")
    lines += ["", "## Parity with the Keras reference", "",
              "Agreements and accuracies with their count and 95 % interval (Wilson).", "",
              "| artifact | output | runtime | result | max abs | worst cosine | top-1 agreement | "
              "accuracy | why |", "|---|---|---|---|---:|---:|---:|---:|---|"]
    for row in state.result("verify")["rows"]:
        f = row["figures"] or {}
        figures = (f"{f['max_abs']:.2e} | {f['min_cosine']:.6f} | "
                   + (proportion_text(f, "top1_agreement") if "top1_agreement" in f else "-")
                   if f else "- | - | -")
        accuracy = proportion_text(f, "accuracy") if "accuracy" in f else "-"
        lines.append(f"| {row['artifact']} | {row.get('output') or '-'} | {row['backend']} | "
                     f"{row['status']} | {figures} | {accuracy} | "
                     f"{'; '.join(row['failures'] + row.get('notes', [])) or '-'} |")
    lines += ["", "![parity](parity.png)", "", "## Latency (2 threads, batch 1)", "",
              "| artifact | runtime | size | median | p90 | images/s |", "|---|---|---:|---:|---:|---:|"]
    for row in state.result("bench"):
        backend = row["backend"] + (" (emulated)" if row.get("emulated") else "")
        if row["status"] == "ok":
            lines.append(f"| {row['artifact']} | {backend} | {row['size_bytes'] / 1e6:.2f} MB | "
                         f"{row['median_ms']:.2f} ms | {row['p90_ms']:.2f} ms | "
                         f"{row['images_per_second']:.0f} |")
        else:
            lines.append(f"| {row['artifact']} | {backend} | {row['size_bytes'] / 1e6:.2f} MB | "
                         f"{row['error']} | | |")
    from deploytool.workflows.measuring.bench import BenchRow, emulated_notes, slower_than_float

    known = set(BenchRow.__dataclass_fields__)
    bench_rows = [BenchRow(**{k: v for k, v in row.items() if k in known})
                  for row in state.result("bench")]
    slower = slower_than_float(bench_rows) + emulated_notes(bench_rows)
    lines += ["", *(f"- {line}" for line in slower), *([""] if slower else []),
              "![latency](latency.png)", "", "## Android bundle", ""]
    bundled = state.result("bundle")
    if bundled.get("skipped"):
        lines += [f"Not bundled: {bundled['skipped']}.", ""]
    else:
        samples = ", ".join(s["expected_top1"] for s in bundled["samples"])
        lines += [f"`{bundled['artifact']}` with its labels, preprocessing record and "
                  f"{len(bundled['samples'])} golden samples (expected top-1: {samples}) is in "
                  f"`{bundled['destination']}` ({bundled['size_bytes'] / 1e6:.2f} MB). The app's "
                  f"self-test checks the phone against them (max abs {bundled['tolerance']:.3g})."
                  + (f" Why this file: {bundled['why']}." if bundled.get("why") else ""), ""]
        if not bundled["in_app"]:
            lines += ["Put it into the Android demo app with "
                      f"`deploytool bundle {bundled['artifact']} --app android_demo`, or copy the "
                      "folder to `android_demo/app/src/main/assets/bundle`.", ""]
    return "\n".join(lines)


def summary_rows(folder) -> list[dict]:
    """One row per artifact and runtime of a finished run folder, as Ultralytics' benchmark
    prints them: artifact, runtime, pass/fail, top-1 accuracy (labelled data) and batch-1
    median latency from the bench step (``emulated`` where it is an emulator's)."""
    state = RunState(Path(folder))
    timed = {(row["artifact"], row["backend"]): row
             for row in state.result("bench") if row["status"] == "ok"}
    verified = state.result("verify")["rows"]
    reference_accuracy = next((row["figures"]["accuracy_reference"] for row in verified
                               if (row["figures"] or {}).get("accuracy_reference") is not None), None)
    rows = [{"artifact": row["artifact"], "runtime": "keras", "status": "reference",
             "accuracy": reference_accuracy, "median_ms": row["median_ms"]}
            for row in state.result("bench") if row["backend"] == "keras" and row["status"] == "ok"]
    for row in verified:
        if row["status"] == "n/a":
            continue
        figures = row["figures"] or {}
        bench = timed.get((row["artifact"], row["backend"]), {})
        rows.append({"artifact": row["artifact"], "runtime": row["backend"], "status": row["status"],
                     "accuracy": figures.get("accuracy"), "median_ms": bench.get("median_ms"),
                     "emulated": bench.get("emulated", False)})
    return rows


def bundle_summary(folder) -> dict:
    """What a finished run folder bundled for Android: {"file", "verified", "why"} (``file``
    None, with the reason in ``why``, where nothing was bundled)."""
    bundled = RunState(Path(folder)).result("bundle") or {}
    if bundled.get("skipped"):
        return {"file": None, "verified": False, "why": bundled["skipped"]}
    return {"file": bundled.get("file"), "verified": bool(bundled.get("verified")),
            "why": bundled.get("why")}
