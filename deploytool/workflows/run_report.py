"""What `deploytool run` shows of a run folder: the Markdown report with its parity plot, and
the summary rows the command prints (artifact, runtime, pass, accuracy, latency)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from deploytool.workflows.run_state import RunState


def plot_parity(rows: list[dict], path: Path) -> None:
    """Worst-sample cosine and max abs error per artifact and runtime, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [row for row in rows if row["figures"]]
    labels = [f"{row['artifact']}\n{row['backend']}" for row in measured]
    figure, (cos_axis, abs_axis) = plt.subplots(1, 2, figsize=(11, 0.5 * len(measured) + 1.5),
                                                sharey=True)
    colours = ["tab:green" if row["status"] == "pass" else "tab:red" for row in measured]
    cos_axis.barh(labels, [1 - row["figures"]["min_cosine"] + 1e-9 for row in measured], color=colours)
    cos_axis.set(xscale="log", xlabel="1 - worst cosine (lower is better)")
    abs_axis.barh(labels, [row["figures"]["max_abs"] + 1e-12 for row in measured], color=colours)
    abs_axis.set(xscale="log", xlabel="max abs error on probabilities")
    cos_axis.invert_yaxis()
    for axis in (cos_axis, abs_axis):
        axis.grid(axis="x", alpha=0.3)
    figure.suptitle("parity with the Keras reference (green: pass)")
    figure.tight_layout()
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
              "| artifact | runtime | result | max abs | worst cosine | top-1 agreement | accuracy | why |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    for row in state.result("verify")["rows"]:
        f = row["figures"] or {}
        figures = (f"{f['max_abs']:.2e} | {f['min_cosine']:.6f} | {f['top1_agreement']:.3f}"
                   if f else "- | - | -")
        accuracy = f"{f['accuracy']:.4f}" if "accuracy" in f else "-"
        lines.append(f"| {row['artifact']} | {row['backend']} | {row['status']} | {figures} | "
                     f"{accuracy} | {'; '.join(row['failures']) or '-'} |")
    lines += ["", "![parity](parity.png)", "", "## Latency (2 threads, batch 1)", "",
              "| artifact | runtime | size | median | p90 | images/s |", "|---|---|---:|---:|---:|---:|"]
    for row in state.result("bench"):
        if row["status"] == "ok":
            lines.append(f"| {row['artifact']} | {row['backend']} | {row['size_bytes'] / 1e6:.2f} MB | "
                         f"{row['median_ms']:.2f} ms | {row['p90_ms']:.2f} ms | "
                         f"{row['images_per_second']:.0f} |")
        else:
            lines.append(f"| {row['artifact']} | {row['backend']} | {row['size_bytes'] / 1e6:.2f} MB | "
                         f"{row['error']} | | |")
    lines += ["", "![latency](latency.png)", "", "## Android bundle", ""]
    bundled = state.result("bundle")
    if bundled.get("skipped"):
        lines += [f"Not bundled: {bundled['skipped']}.", ""]
    else:
        samples = ", ".join(s["expected_top1"] for s in bundled["samples"])
        lines += [f"`{bundled['artifact']}` with its labels, preprocessing record and "
                  f"{len(bundled['samples'])} golden samples (expected top-1: {samples}) is in "
                  f"`{bundled['destination']}` ({bundled['size_bytes'] / 1e6:.2f} MB). The app's "
                  f"self-test checks the phone against them (max abs {bundled['tolerance']:.3g}).", ""]
        if not bundled["in_app"]:
            lines += ["Put it into the Android demo app with "
                      f"`deploytool bundle {bundled['artifact']} --app android_demo`, or copy the "
                      "folder to `android_demo/app/src/main/assets/bundle`.", ""]
    return "\n".join(lines)


def summary_rows(folder) -> list[dict]:
    """One row per artifact and runtime of a finished run folder, as Ultralytics' benchmark
    prints them: artifact, runtime, pass/fail, top-1 accuracy (labelled data) and batch-1
    median latency from the bench step."""
    state = RunState(Path(folder))
    latency = {(row["artifact"], row["backend"]): row["median_ms"]
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
        rows.append({"artifact": row["artifact"], "runtime": row["backend"], "status": row["status"],
                     "accuracy": figures.get("accuracy"),
                     "median_ms": latency.get((row["artifact"], row["backend"]))})
    return rows
