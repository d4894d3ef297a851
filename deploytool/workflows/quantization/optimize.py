"""`deploytool optimize`: the fastest artifact that keeps an accuracy budget, on the runtime the
user ships with, measured on this machine.

Every precision the format offers is built (fp32, fp16, dynamic range, int8) and, when plain int8
misses the budget, the budget search's int8 (other calibration, layers kept in float). Each
candidate is judged on the same held-out images by the same comparator, on the chosen runtime
(:class:`~deploytool.workflows.quantization.held_out.HeldOutJudge`: counts and 95 % intervals), and timed
there in child processes (`deploytool bench`'s measurement; :data:`ROUNDS` rounds, the
candidates taking turns, the median of the rounds' medians and p90s). The fastest
candidate that meets the budget is written with its manifest (the very file judged and timed,
copied; an ``optimize`` record lists every candidate); fp32, the float model itself, is the answer when nothing else meets it. A Markdown
report, a Pareto chart (latency against the judged figure, size as the marker) and the JSON go
beside it.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import target, targets
from deploytool.core.errors import UserError
from deploytool.core.fileio import sha256_file, write_bytes, write_json
from deploytool.core.output_parity import proportion_text
from deploytool.runtimes.base import DEFAULT_THREADS, runners
from deploytool.sources.model_source import ModelSource
from deploytool.workflows.measuring.bench import MIN_SECONDS, SLOWER_MARGIN, measure, milliseconds
from deploytool.workflows.quantization.budget import budget_search
from deploytool.workflows.quantization.budget_criteria import Budget, Judgement
from deploytool.workflows.conversion.convert import ConvertResult, convert, place
from deploytool.workflows.quantization.held_out import HeldOutJudge

RUNS, WARMUP = 20, 3
# Each candidate is timed in this many child processes, the candidates taking turns, and its
# latency is the median of their medians: one child's median of ConvNeXtTiny's fp32 .onnx ranged
# over 18-25 ms in three processes in a row on this machine, and a single round in optimize had
# timed it at 32 ms (against 17-19 ms by `bench`), a 2x error that decides which file is "fastest".
ROUNDS = 3
PRECISION_LABELS = {"fp32": "fp32", "fp16": "fp16", "dynamic": "dynamic range", "int8": "int8"}


@dataclass
class Candidate:
    """One artifact tried: how it was made, its held-out figures and verdict, size and latency."""

    label: str
    options: ConvertOptions
    figures: dict
    judgement: Judgement
    size_bytes: int
    artifact: Path | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    timing_error: str | None = None
    round_medians_ms: list = field(default_factory=list)  # one per timing round, in order
    budget_record: dict | None = None  # the search's, for the int8 found within the budget
    chosen: bool = False
    sha256: str | None = None  # of the file judged and timed

    @property
    def eligible(self) -> bool:
        """Meets the budget (by its bounds) and was timed."""
        return self.judgement.met and self.median_ms is not None

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"label": self.label, "precision": self.options.precision,
                "keep_float": list(self.options.keep_float),
                "calibration_method": self.options.calibration_method
                if self.options.precision == "int8" else None,
                "size_bytes": self.size_bytes, "median_ms": self.median_ms, "p90_ms": self.p90_ms,
                "round_medians_ms": self.round_medians_ms, "timing_error": self.timing_error,
                "figures": self.figures,
                "judgement": self.judgement.as_dict(), "met": self.judgement.met,
                "chosen": self.chosen, "sha256": self.sha256}


@dataclass
class OptimizeReport:
    """What optimize tried and chose, and where it wrote the chosen artifact."""

    model: str
    runtime: str
    format: str
    budget: str
    judged: str  # the figure the budget ranks by (top1_drop_points, min_cosine, top1_agreement)
    bar: float  # the budget's bar on the chart's axis
    threads: int
    held_out_images: int
    candidates: list[Candidate]
    reason: str = ""
    result: ConvertResult | None = None
    seconds: float = 0.0
    files: dict = field(default_factory=dict)
    int8_search: dict | None = None  # the budget search's outcome, when the format has int8
    runs: int = RUNS  # timed calls per candidate, at least

    @property
    def chosen(self) -> Candidate:
        """The candidate written."""
        return next(c for c in self.candidates if c.chosen)

    def as_dict(self) -> dict:
        """Plain-JSON form (the manifest's ``optimize`` record and --json)."""
        return {"model": self.model, "runtime": self.runtime, "format": self.format,
                "budget": self.budget, "judged": self.judged, "threads": self.threads,
                "runs": self.runs,
                "held_out_images": self.held_out_images, "chosen": self.chosen.label,
                "reason": self.reason, "artifact": str(self.result.artifact) if self.result else None,
                "seconds": round(self.seconds, 1), "files": self.files,
                "int8_search": self.int8_search,
                "candidates": [c.as_dict() for c in self.candidates]}


def format_for_runtime(runtime: str, to: str | None = None) -> str:
    """The export format to build for ``runtime``: ``to`` when given (it must be one the runtime
    reads), else the format made for that runtime, else the first one it reads."""
    known = {name: cls for name, cls in runners().items() if cls.reads}
    if runtime not in known:
        raise UserError(f"unknown runtime {runtime!r}; choose {', '.join(known)}")
    reads = known[runtime].reads
    if to is not None:
        if target(to).suffix not in reads:
            raise UserError(f"{known[runtime].label} does not read {target(to).suffix} files; "
                            f"it reads {', '.join(reads)}")
        return to
    own = [t.name for t in targets().values() if t.runtime == runtime]
    if own:
        return own[0]
    return next(t.name for suffix in reads for t in targets().values() if t.suffix == suffix)


def optimize(source: ModelSource, runtime: str, budget: Budget, to: str | None = None,
             calib_data: str | None = None, calib_samples: int = ConvertOptions.calib_samples,
             out_dir=ConvertOptions.out_dir, seed: int = 0, threads: int = DEFAULT_THREADS,
             runs: int = RUNS, log=lambda message: None) -> OptimizeReport:
    """Build, judge and time every candidate of ``source`` for ``runtime`` in format ``to``
    (default: :func:`format_for_runtime`), calibrated and judged on ``calib_data``; write the
    fastest that meets ``budget`` into ``out_dir`` with the report files; return the report."""
    started = time.perf_counter()
    budget.check()
    options = ConvertOptions(to=format_for_runtime(runtime, to), calib_data=calib_data,
                             calib_samples=calib_samples, seed=seed, out_dir=Path(out_dir))
    options.check()
    chosen_target = target(options.to)
    out_dir = Path(options.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    judge = HeldOutJudge(source, options, budget, runtime, threads)
    log(f"judging on {judge.about}, timing on {runtime} with {threads} "
        f"thread{'s' if threads > 1 else ''}")
    candidates: list[Candidate] = []
    search = {}
    with tempfile.TemporaryDirectory(prefix=".deploytool-optimize-", dir=out_dir) as tmp:
        for precision in chosen_target.precisions:
            variant = replace(options, precision=precision, out_dir=Path(tmp) / precision)
            if precision == "int8":
                candidates += _int8_candidates(source, variant, budget, judge, log, search)
                continue
            log(f"building {PRECISION_LABELS[precision]}")
            result = convert(source, variant, remember=False)
            figures, _ = judge.figures(result, timed=False)  # timed below, in a child process
            candidates.append(Candidate(PRECISION_LABELS[precision], variant, figures,
                                        budget.judge(figures),
                                        result.manifest.size_bytes, result.artifact))
        for candidate in candidates:
            candidate.sha256 = sha256_file(candidate.artifact)
        log(f"timing {len(candidates)} candidates on {runtime}, {ROUNDS} rounds in turn")
        time_in_rounds(candidates, runtime, judge.images[:1], threads, runs)
        chosen, reason = choose(candidates)
        chosen.chosen = True
        report = OptimizeReport(source.name, runtime, options.to, budget.describe(),
                                budget.judged_figure, chart_bar(budget), threads,
                                len(judge.images), candidates, reason, int8_search=search or None,
                                runs=runs)
        log(f"writing {chosen.label}: {reason}")
        extra = {"optimize": report.as_dict()}
        if chosen.budget_record:
            extra["budget"] = chosen.budget_record
        report.result = place(chosen.artifact, out_dir, extra)  # the very file judged and timed
    report.seconds = time.perf_counter() - started
    report.files = write_report_files(report, out_dir)
    return report


def _int8_candidates(source, options, budget, judge, log, summary: dict) -> list[Candidate]:
    """Plain int8, and the budget search's choice when it is another attempt that meets it;
    ``summary`` receives the search's outcome."""
    search = budget_search(source, options, budget, log, judge=judge, workdir=options.out_dir)
    record = search.record
    summary.update({key: record[key] for key in ("verdict", "chosen", "layers_in_float",
                                                 "float_only", "reasons", "failed_attempts",
                                                 "seconds", "made_once")},
                   attempts=[(a["label"], a["judgement"]["verdict"]) for a in record["attempts"]])
    plain = search.attempts[0]
    found = [Candidate("int8", plain.options, plain.figures, plain.judgement, plain.size_bytes,
                       plain.artifact)]
    if search.best is not plain:
        best = search.best
        found.append(Candidate(f"int8, {best.label}", best.options, best.figures, best.judgement,
                               best.size_bytes, best.artifact,
                               budget_record=search.record if best.met else None))
    return found


def time_in_rounds(candidates: list[Candidate], runtime: str, images, threads: int, runs: int,
                   rounds: int = ROUNDS) -> None:
    """Each candidate's latency on ``runtime``: ``rounds`` child processes each, the candidates
    taking turns (so a slow spell of the machine falls on all of them), the median of the
    rounds' medians and p90s. A candidate that fails to run is not timed again."""
    from statistics import median

    p90s = {id(c): [] for c in candidates}
    for _ in range(rounds):
        for candidate in candidates:
            if candidate.timing_error:
                continue
            row = measure(candidate.artifact, candidate.label, runtime, images, threads, runs, WARMUP)
            if row.status != "ok":
                candidate.timing_error = row.error
                continue
            candidate.round_medians_ms.append(row.median_ms)
            p90s[id(candidate)].append(row.p90_ms)
    for candidate in candidates:
        if not candidate.timing_error and candidate.round_medians_ms:
            candidate.median_ms = median(candidate.round_medians_ms)
            candidate.p90_ms = median(p90s[id(candidate)])


def rounds_overlap(fastest: Candidate, other: Candidate) -> bool:
    """Whether ``other`` was faster in one of its timing rounds than ``fastest`` in one of its
    own: the order of the two is then not settled by this run."""
    return bool(fastest.round_medians_ms and other.round_medians_ms
                and min(other.round_medians_ms) < max(fastest.round_medians_ms))


def choose(candidates: list[Candidate]) -> tuple[Candidate, str]:
    """The fastest candidate that meets the budget, else fp32 (the float model itself), with the
    reason in words."""
    eligible = [c for c in candidates if c.eligible]
    float32 = next(c for c in candidates if c.options.precision == "fp32")
    if not eligible:
        return float32, ("no candidate meets the budget on these images; fp32 is the float model "
                         "itself (verify proves it equivalent)")
    fastest = min(eligible, key=lambda c: c.median_ms)
    runner_up = min((c for c in eligible if c is not fastest), key=lambda c: c.median_ms, default=None)
    close = ""
    if runner_up and runner_up.median_ms < fastest.median_ms * SLOWER_MARGIN:
        close = (f"; {runner_up.label} is within this machine's timing noise of it "
                 f"({_ms(runner_up.median_ms)}, less than {SLOWER_MARGIN - 1:.0%} slower)")
    elif runner_up and rounds_overlap(fastest, runner_up):
        close = (f"; {runner_up.label} ({_ms(runner_up.median_ms)}) is within this run's timing "
                 f"noise of it: its fastest round ({_ms(min(runner_up.round_medians_ms))}) beat "
                 f"the winner's slowest ({_ms(max(fastest.round_medians_ms))})")
    if fastest is float32:
        return fastest, ("fp32 is the fastest that meets the budget: no reduced precision is "
                         "faster here" + close)
    return fastest, ("the fastest that meets the budget" + (
        f": {_ms(fastest.median_ms)} against {_ms(float32.median_ms)} for fp32"
        if float32.median_ms else "") + close)


def candidate_figures_text(candidate: Candidate, labelled: bool) -> str:
    """The figures the budget judges, in a few words."""
    figures = candidate.figures
    words = []
    if labelled and "top1_drop_points" in figures:
        low, high = (-100 * bound for bound in reversed(figures["accuracy_change_interval"]))
        words.append(f"drop {figures['top1_drop_points']:.2f} pt (95 %: {low:.2f} to {high:.2f})")
    if "top1_agreement" in figures:
        words.append(f"agreement {proportion_text(figures, 'top1_agreement')}")
    cosine = figures["min_cosine"]  # six places where four would round an int8 file to 1.0000
    words.append(f"worst cosine {cosine:.6f}" if cosine > 0.9999 else f"worst cosine {cosine:.4f}")
    return "; ".join(words)


def write_report_files(report: OptimizeReport, out_dir: Path) -> dict:
    """optimize.md, optimize.json and optimize.png in ``out_dir``; their paths by kind."""
    files = {"markdown": str(out_dir / "optimize.md"), "json": str(out_dir / "optimize.json"),
             "chart": str(out_dir / "optimize.png")}
    labelled = any("top1_drop_points" in c.figures for c in report.candidates)
    lines = [f"# deploytool optimize: {report.model} on {report.runtime}", "",
             f"Budget: {report.budget}, judged on {report.held_out_images} held-out images by the "
             f"95 % bound of each agreement and drop. Latency: median and p90 of at least {report.runs} "
             f"calls ({MIN_SECONDS:g} s of them for a fast model), "
             f"batch 1, {report.threads} thread{'s' if report.threads > 1 else ''}, the median "
             f"of {ROUNDS} rounds, each candidate in a child process of its own and the candidates "
             "taking turns (the rounds' medians are in optimize.json), on this machine.", "",
             f"Chosen: **{report.chosen.label}** ({report.reason}), written to "
             f"`{report.result.artifact}`.", "",
             "| candidate | size | median | rounds | p90 | figures | budget |",
             "|---|---:|---:|---|---:|---|---|"]
    for c in report.candidates:
        rounds = ", ".join(_ms(ms) for ms in c.round_medians_ms)
        timing = (f"{_ms(c.median_ms)} | {rounds} | {_ms(c.p90_ms)}" if c.median_ms is not None
                  else f"fails: {(c.timing_error or '')[:60]} | - | -")
        verdict = c.judgement.verdict + ("" if c.judgement.met else ": " + "; ".join(c.judgement.reasons))
        lines.append(f"| {'**' + c.label + '**' if c.chosen else c.label} | "
                     f"{c.size_bytes / 1e6:.2f} MB | {timing} | "
                     f"{candidate_figures_text(c, labelled)} | {verdict.replace('|', '/')} |")
    lines += ["", "![latency against accuracy](optimize.png)", ""]
    write_bytes(out_dir / "optimize.md", "\n".join(lines).encode())
    write_json(out_dir / "optimize.json", report.as_dict())
    plot_pareto(report, out_dir / "optimize.png")
    return files


AXES = {"top1_drop_points": ("top-1 drop against float (points)", lambda f: f["top1_drop_points"]),
        # a float32 cosine can land a hair above 1
        "min_cosine": ("1 - worst cosine (log)", lambda f: max(0.0, 1 - f["min_cosine"])),
        "top1_agreement": ("decisions changed (1 - top-1 agreement)", lambda f: 1 - f["top1_agreement"])}


def chart_bar(budget: Budget) -> float:
    """The budget's bar on the chart's axis of its judged figure."""
    return {"top1_drop_points": budget.max_drop,
            "min_cosine": 1 - (budget.min_cosine if budget.min_cosine is not None else 1),
            "top1_agreement": 1 - (budget.min_agreement or 0)}[budget.judged_figure]


def plot_pareto(report: OptimizeReport, path: Path) -> None:
    """Latency against the figure the budget judges (top-1 drop, 1 - worst cosine or 1 -
    agreement: lower is better), marker area by size; candidates meeting the budget in green,
    the chosen one ringed, the Pareto front of the timed candidates drawn through."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [c for c in report.candidates if c.median_ms is not None]
    ylabel, figure_of = AXES[report.judged]
    value = lambda c: figure_of(c.figures)  # noqa: E731
    biggest = max((c.size_bytes for c in timed), default=1)
    figure, axis = plt.subplots(figsize=(7.5, 4.8))
    for index, c in enumerate(timed):
        axis.scatter(c.median_ms, value(c), s=40 + 600 * c.size_bytes / biggest, alpha=0.6,
                     color="tab:green" if c.judgement.met else "tab:red",
                     edgecolors="black" if c.chosen else "none", linewidths=2)
        axis.annotate(f"{c.label}\n{c.size_bytes / 1e6:.2f} MB", (c.median_ms, value(c)),
                      textcoords="offset points", xytext=(7, (-22, 4, -9)[index % 3]), fontsize=7)
    front, best = [], float("inf")
    for c in sorted(timed, key=lambda c: c.median_ms):
        if value(c) < best:
            front.append(c)
            best = value(c)
    axis.plot([c.median_ms for c in front], [value(c) for c in front], "--", color="grey",
              alpha=0.6, label="Pareto front")
    axis.axhline(report.bar, color="tab:red", alpha=0.5, linewidth=1, label="the budget's bar")
    axis.set(xlabel=f"median latency, batch 1, {report.threads} thread"
                    f"{'s' if report.threads > 1 else ''} (ms)",
             ylabel=ylabel,
             title=f"{report.model} on {report.runtime}: {report.budget}\n"
                   f"green meets it, red does not; ringed: chosen; area: size")
    highest = max([report.bar, *(value(c) for c in timed)])
    if report.judged == "min_cosine":
        axis.set_yscale("symlog", linthresh=1e-5)
        axis.set_ylim(-4e-6, highest * 5)
    else:
        lowest = min([0.0, *(value(c) for c in timed)])
        axis.set_ylim(lowest - 0.1 * (highest - lowest or 1), highest + 0.3 * (highest - lowest or 1))
    axis.set_xlim(right=max(c.median_ms for c in timed) * 1.15 if timed else None)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _ms(value: float | None) -> str:
    """Three digits: optimize tells apart candidates a few per cent apart."""
    return milliseconds(value, digits=3)


def report_json(report: OptimizeReport) -> str:
    """The report as JSON text."""
    return json.dumps(report.as_dict(), indent=2)


__all__ = ["Candidate", "OptimizeReport", "choose", "format_for_runtime", "optimize"]
