"""An accuracy budget for int8: `deploytool convert --int8 --max-drop POINTS | --min-cosine C`.

Plain int8 is tried first. When it misses the budget on held-out images (never the calibration
ones), the attempts come cheapest first, cheapest in seconds and in the file. What re-quantizes
the calibration already made and costs nothing in the file: what the format offers besides (a
.tflite's float input and output instead of int8 ones). Then the layers `deploytool diagnose`
finds costliest are kept in float, each attempt a re-quantization of the same calibration: a
mixed int8/float model (TFLite: denylisted nodes, with float input and output; ONNX: nodes
excluded from quantization). Every ranked layer in float is tried first: when even that misses,
no count of them meets the budget, the search ends, and the record's ``float_only`` says so (a
float form, fp16 or dynamic range, which `deploytool optimize` weighs, is then the file to
ship). Otherwise the count is bisected between one that missed and one that met
(:class:`FloatLayerBisection`). The ranking does not predict each layer's effect on the output
exactly (errors cancel and compound: on a keras.applications MobileNetV2, 1 to 34 layers in
float wandered between 0.85 and 0.94), so the count chosen is one seen to meet the budget.
Last, where a few layers in float met it (:func:`_recalibration_may_mend`), what calibrates
again, each as costly as a conversion: the format's other calibration methods (ONNX Runtime's
percentile and entropy calibrators) and four times the calibration images; one that meets gives
an int8 file without float layers, which is chosen.
The attempts share what does not change between them (:mod:`deploytool.core.reuse`): the
prepared model, its float export and calibration are made once per calibration set. The chosen
attempt's own file is written (not a second conversion), and its manifest's
``budget`` record lists every attempt, the layers left in float and what they cost in size and
latency against plain int8.

Every attempt is judged by :mod:`deploytool.workflows.quantization.budget_criteria`: by the 95 % bound of its
agreement and accuracy drop, so a budget is met only when the held-out images show it. When they
are too few for even a perfect attempt to show it, the search stops after plain int8, which is
written without the claim: the record says the budget is not resolvable (or not met, when plain
int8 misses it outright) and about how many images would show it.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploytool.converters.failures import ConversionError
from deploytool.converters.options import ConvertOptions
from deploytool.converters.targets.registry import target
from deploytool.core.errors import UserError
from deploytool.core.output_parity import proportion_text
from deploytool.core.reuse import Reuse
from deploytool.sources.model_source import ModelSource
from deploytool.workflows.quantization.budget_criteria import MET, MISSED, NOT_RESOLVABLE, Budget, Judgement
from deploytool.workflows.conversion.convert import ConvertResult, convert, place
from deploytool.workflows.quantization.held_out import HeldOutJudge

__all__ = ["Budget", "budget_search", "budgeted_convert"]

# the other calibrations are tried after the float-layer search when the fewest layers seen to
# meet the budget are at most this share of those ranked, or this few: on DenseNet121 (.onnx, 58
# of 248 layers in float) they tripled the search's time (percentile 64 s, entropy 33 s, 4x
# images 20 s) and none met the budget, as none did on the other keras.applications families
RECALIBRATE_WITHIN, RECALIBRATE_FEW = 0.1, 3


class FloatLayerBisection:
    """How many of ``layers`` ranked layers the next attempt keeps in float, and why: every one
    of them first (when that misses the budget, no count of them meets it, and the search ends
    there), then halfway between the largest count known to miss (plain int8's none at first)
    and the smallest known to meet, until the two are at most a tenth of the latter apart (or
    one layer): a few layers more or less in float cost next to nothing at that point. Errors
    cancel and compound, so a count between two others need not do between them; the count
    chosen is one that was seen to meet the budget."""

    def __init__(self, layers: int, resolution: float = 0.1):
        self.layers, self.resolution = layers, resolution
        self.missed, self.met = 0, None

    @property
    def most(self) -> int:
        """At most this many attempts in all."""
        return 1 + max(1, self.layers).bit_length()

    def next(self) -> tuple[int, str] | None:
        """The next count and the reason for it, or None when the search is done."""
        if self.met is None:
            if self.missed >= self.layers:
                return None
            return self.layers, ("every ranked layer first: if that misses, no count of them "
                                 "meets the budget")
        if self.met - self.missed <= max(1, self.resolution * self.met):
            return None
        below = f"{self.missed} missed" if self.missed else "plain int8 missed"
        return (self.missed + self.met) // 2, f"{below} and {self.met} met: halfway between"

    def record(self, count: int, met: bool) -> None:
        """What the attempt keeping ``count`` layers in float did (not made counts as missed)."""
        if met:
            self.met = count if self.met is None else min(self.met, count)
        else:
            self.missed = max(self.missed, count)


@dataclass
class Attempt:
    """One conversion tried, and how it did on the held-out images."""

    label: str
    options: ConvertOptions
    figures: dict
    judgement: Judgement
    size_bytes: int
    milliseconds: float
    keep_float: list = field(default_factory=list)
    artifact: Path | None = None  # where it was written (gone unless the search was given a workdir)

    @property
    def met(self) -> bool:
        """Met by the bounds of the figures' intervals."""
        return self.judgement.met

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"label": self.label, "calibration_method": self.options.calibration_method,
                "calib_samples": self.options.calib_samples, "keep_float": self.keep_float,
                "figures": self.figures, "met": self.met, "judgement": self.judgement.as_dict(),
                "size_bytes": self.size_bytes, "latency_ms": round(self.milliseconds, 3)}


@dataclass
class SearchResult:
    """A budget search's attempts in order (plain int8 first), the chosen one and its record."""

    attempts: list[Attempt]
    best: Attempt
    record: dict
    made: dict = field(default_factory=dict)  # what the search made once and shared, by kind


class _Trials:
    """The attempts of one search, in order: each converted into its own folder under
    ``folder``, judged on the held-out images, logged and kept (with the ones the converter
    could not make after plain int8, in ``failed``)."""

    def __init__(self, source: ModelSource, budget: Budget, judge: HeldOutJudge, folder: Path,
                 log):
        self.source, self.budget, self.judge, self.folder, self.log = source, budget, judge, folder, log
        self.attempts: list[Attempt] = []
        self.failed: list[dict] = []
        self.started = time.perf_counter()
        # the prepared model, calibration and parity images, float export and calibration
        # statistics, made by the first attempt that needs them and shared by the rest
        self.reuse = Reuse(folder / "shared")

    def run(self, label: str, variant: ConvertOptions, step: tuple[int, int, str] | None = None
            ) -> tuple[Attempt, ConvertResult]:
        """Convert with ``variant``, judge it, and keep the attempt; ``step`` (k, n, phase) says
        it is the k-th of at most n attempts of its phase, which the log says with the time so
        far and, at the pace so far, at most how long the phase's rest takes."""
        number = len(self.attempts) + len(self.failed) + 1
        elapsed = time.perf_counter() - self.started
        where = ""
        if step:
            index, most, phase = step
            pace = elapsed / (number - 1)  # plain int8 always came first
            where = (f", {index} of at most {most} {phase}, at most about "
                     f"{pace * (most - index + 1):.0f} s more at {pace:.0f} s an attempt")
        self.log(f"budget: trying {label} (attempt {number}{where}; {elapsed:.0f} s so far)")
        result = convert(self.source, replace(variant, out_dir=self.folder / str(len(self.attempts))),
                         remember=False, reuse=self.reuse)
        figures, milliseconds = self.judge.figures(result)
        done = Attempt(label, variant, figures, self.budget.judge(figures),
                       result.manifest.size_bytes, milliseconds, list(variant.keep_float),
                       result.artifact)
        self.attempts.append(done)
        verdict = {MET: "meets", NOT_RESOLVABLE: f"not resolvable on {len(self.judge.images)} images:"}
        self.log(f"budget: {label}: {_figures_text(figures, self.judge.labels is not None)} - "
                 f"{verdict.get(done.judgement.verdict, 'misses')} {self.budget.describe()}")
        return done, result

    def optional(self, label: str, variant: ConvertOptions,
                 step: tuple[int, int, str] | None = None) -> Attempt | None:
        """An attempt after plain int8; one the converter fails on is recorded and skipped."""
        try:
            return self.run(label, variant, step)[0]
        except ConversionError as error:
            self.log(f"budget: {label}: the conversion failed, going on without it ({error})")
            self.failed.append({"label": label, "error": str(error)})
            return None

    def better(self, one: Attempt, other: Attempt | None) -> Attempt:
        """The better of two attempts under the budget (``one`` when ``other`` failed)."""
        return one if other is None else _better(one, other, self.budget)


def _in_turn(trials: _Trials, attempts: list, best: Attempt, phase: str) -> tuple[Attempt, Attempt | None]:
    """``attempts`` (label, options) in turn until one meets the budget. Returns the best
    attempt so far and the one that met (None when none did)."""
    for index, (label, variant) in enumerate(attempts, 1):
        done = trials.optional(label, variant, (index, len(attempts), phase))
        best = trials.better(best, done)
        if done is not None and done.met:
            return best, done
    return best, None


def _recalibrations(options: ConvertOptions) -> list:
    """Attempts that calibrate again, each as costly as a conversion: the format's other
    calibration methods, then four times the calibration images."""
    chosen_target = target(options.to)
    return [*((f"{method} calibration", replace(options, calibration_method=method))
              for method in chosen_target.calibration_methods if method != options.calibration_method),
            ("4x the calibration images", replace(options, calib_samples=options.calib_samples * 4))]


def _recalibration_may_mend(best: Attempt, ranking: list[str], log) -> bool:
    """Whether the other calibrations are worth their cost after the float-layer search: when a
    few layers in float met the budget (at most :data:`RECALIBRATE_WITHIN` of those ranked, or
    :data:`RECALIBRATE_FEW`), ranges at fault in a few layers are what another calibration can
    mend. Where many had to stay float, or no count of layers met, the error is spread through
    the model."""
    few = max(RECALIBRATE_FEW, RECALIBRATE_WITHIN * len(ranking))
    if best.met and len(best.keep_float) <= few:
        return True
    why = (f"{len(best.keep_float)} of {len(ranking)} ranked layers had to stay float to meet it"
           if best.met else "no count of ranked layers in float met it")
    log(f"budget: other calibrations not tried: {why}; another calibration moves ranges, "
        "which mends a few layers, not many")
    return False


def _float_layer_attempts(trials: _Trials, options: ConvertOptions, best: Attempt,
                          plain_result: ConvertResult) -> tuple[Attempt, list[str]]:
    """The layers diagnose finds costliest kept in float, as many as :class:`FloatLayerBisection`
    says in turn. Returns the best attempt (the one with the fewest layers in float among those
    that meet the budget) and the ranking."""
    from deploytool.workflows.quantization.diagnose import diagnose

    chosen_target = target(options.to)
    twin = chosen_target.quantized_from(trials.reuse)  # no second float export
    report = diagnose(plain_result.artifact, options.calib_data, 32, float_artifact=twin)
    ranking = [row.name for row in sorted(report.rows, key=lambda row: row.own_snr_db) if row.scale]
    # a layer kept in float keeps the model's edges in float too: with int8 logits, every
    # layer in float still held a MobileNetV2 .tflite at worst cosine 0.94
    base = chosen_target.float_edges(best.options)
    edges = "" if base == best.options else " (and float input and output)"
    artifact_bytes = Path(plain_result.artifact).read_bytes()
    bisection, met, index = FloatLayerBisection(len(ranking)), {}, 0
    while (step := bisection.next()) is not None:
        (count, why), index = step, index + 1
        keep = chosen_target.keep_float_closure(artifact_bytes, ranking[:count])
        label = (f"all {count} ranked layers in float" if count == len(ranking) else
                 f"{count} costliest layer{'s' if count > 1 else ''} in float") + edges
        trials.log(f"budget: {count} of {len(ranking)} ranked layers in float next: {why}")
        done = trials.optional(label, replace(base, keep_float=keep),
                               (index, bisection.most, "with layers in float"))
        if done is not None:
            done.keep_float = ranking[:count]
            best = trials.better(best, done)
            if done.met:
                met[count] = done
        bisection.record(count, done is not None and done.met)
    return (met[bisection.met] if bisection.met is not None else best), ranking


def _search_record(trials: _Trials, best: Attempt, plain: Attempt, perfect: Judgement,
                   ranking: list[str]) -> dict:
    """The manifest's ``budget`` record of a finished search."""
    judgement, reasons, needed = best.judgement, list(best.judgement.reasons), best.judgement.needed
    if not perfect.met and judgement.verdict == MISSED:
        reasons.append(f"an attempt keeping every decision of float could not show it on "
                       f"{perfect.samples} images either")
        needed = needed or perfect.needed
    # no int8 form short of every layer diagnose ranks in float meets it
    float_only = bool(ranking) and (len(best.keep_float) == len(ranking) or not judgement.met)
    return {"budget": trials.budget.describe(), "met": judgement.met, "verdict": judgement.verdict,
            "reasons": reasons, "needed_images": needed,
            "judged_by": "the 95 % interval's bound of each agreement and accuracy drop; the "
                         "worst cosine over the held-out images", "chosen": best.label,
            "layers_in_float": best.keep_float,
            "size_cost": round(best.size_bytes / plain.size_bytes - 1, 4),
            "latency_cost": round(best.milliseconds / plain.milliseconds - 1, 4)
            if plain.milliseconds else None,
            "float_only": float_only, "labelled": trials.judge.labels is not None,
            "held_out_images": int(len(trials.judge.images)),
            "attempts": [a.as_dict() for a in trials.attempts], "failed_attempts": trials.failed,
            "made_once": dict(trials.reuse.made),
            "seconds": round(time.perf_counter() - trials.started, 1)}


def budget_search(source: ModelSource, options: ConvertOptions, budget: Budget,
                  log=lambda message: None, judge: HeldOutJudge | None = None,
                  workdir: Path | None = None) -> SearchResult:
    """Search for the cheapest int8 conversion of ``source`` that meets ``budget`` (see the
    module's docstring). Returns every attempt, the chosen one (the best one when none meets
    it) and the ``budget`` record for its manifest. Attempts are judged by ``judge`` (default: on the
    format's own runtime) and written under ``workdir`` when given (each attempt's
    ``artifact``), else into a temporary folder removed on return."""
    budget.check()
    if options.precision != "int8":
        raise UserError("an accuracy budget applies to int8: add --int8")
    if options.qat:
        raise UserError("an accuracy budget searches post-training quantization; drop --qat")
    judge = judge or HeldOutJudge(source, options, budget)
    log(f"judging {budget.describe()} on {judge.about}")
    folder = (contextlib.nullcontext(str(workdir)) if workdir is not None else
              tempfile.TemporaryDirectory(prefix=".deploytool-budget-", dir=_parent(options.out_dir)))
    with folder as tmp:
        trials = _Trials(source, budget, judge, Path(tmp), log)
        plain, plain_result = trials.run("plain int8", options)
        # on too few images no attempt, however good, could be shown to meet the budget
        perfect = budget.judge_perfect(plain.figures)
        best, ranking = plain, []
        if not plain.met and perfect.met:
            free = list(target(options.to).budget_variants(options))
            best, met = _in_turn(trials, free, best, "that re-quantize the calibration made")
            if met is None:
                best, ranking = _float_layer_attempts(trials, options, best, plain_result)
                if _recalibration_may_mend(best, ranking, log):
                    best, met = _in_turn(trials, _recalibrations(options), best,
                                         "that calibrate again")
                    best = met or best  # int8 throughout beats layers in float
    return SearchResult(trials.attempts, best, _search_record(trials, best, plain, perfect, ranking),
                        dict(trials.reuse.made))


def budgeted_convert(source: ModelSource, options: ConvertOptions, budget: Budget,
                     log=lambda message: None) -> ConvertResult:
    """Convert ``source`` to int8 within ``budget``: the cheapest attempt that meets it (see the
    module's docstring), written to ``options.out_dir`` with a ``budget`` record; if none does,
    the best attempt, and the record says the budget was not met. The file written is the
    attempt's own, the one judged (:func:`~deploytool.workflows.conversion.convert.place`), not
    a second conversion."""
    out_dir = _parent(options.out_dir)
    with tempfile.TemporaryDirectory(prefix=".deploytool-budget-", dir=out_dir) as tmp:
        search = budget_search(source, options, budget, log, workdir=Path(tmp))
        log(budget_line(search.record, search.best))
        return place(search.best.artifact, out_dir, {"budget": search.record})


FLOAT_ONLY_WORDS = ("only with every layer diagnose ranks in float, a float model in an int8 "
                    "file; a float form (fp16, dynamic range) is likely the better file: "
                    "`deploytool optimize` weighs them")


def budget_line(record: dict, best: Attempt) -> str:
    """The console's one line about the budget."""
    figures = _figures_text(best.figures, record["labelled"])
    if record["verdict"] == NOT_RESOLVABLE:
        needed = (f"about {record['needed_images']:,} needed at the rates seen"
                  if record["needed_images"] else "no number of images would resolve it at the rates seen")
        return (f"budget not resolvable with {record['held_out_images']} held-out images "
                f"({record['budget']}; {needed}): {'; '.join(record['reasons'])}; {best.label} "
                "is written without claiming the budget")
    if not record["met"]:
        needed = (f"; about {record['needed_images']:,} images would be needed to show it"
                  if record["needed_images"] else "")
        where = ("no int8 form meets it, not even with every layer diagnose ranks in float; "
                 "a float form is left: `deploytool optimize` weighs fp16 and dynamic range"
                 if record.get("float_only")
                 else "see `deploytool diagnose` on the artifact")
        return (f"budget not met ({record['budget']}): the best attempt, {best.label}: "
                f"{'; '.join(record['reasons'])}{needed}; {where}")
    floats = record["layers_in_float"]
    if record.get("float_only"):
        return f"budget met ({record['budget']}) {FLOAT_ONLY_WORDS}; {figures}"
    kept = (f"kept {len(floats)} layer{'s' if len(floats) > 1 else ''} in float "
            f"({', '.join(name.split(';')[0] for name in floats[:3])}{', ...' if len(floats) > 3 else ''}), "
            f"size {record['size_cost']:+.0%}, latency {record['latency_cost']:+.0%} against plain int8"
            if floats else best.label)
    return f"budget met ({record['budget']}): {kept}; {figures}"


def _figures_text(figures: dict, labelled: bool) -> str:
    """The figures the budget judges, in a line (the worst head's, for several outputs)."""
    agreement = (f", agreement {proportion_text(figures, 'top1_agreement')}"
                 if "top1_agreement" in figures else "")
    heads = f"worst of {len(figures['heads'])} outputs: " if "heads" in figures else ""
    if labelled and "accuracy" in figures:
        low, high = (-100 * bound for bound in reversed(figures["accuracy_change_interval"]))
        return (f"{heads}top-1 {figures['accuracy']:.4f} against float "
                f"{figures['accuracy_reference']:.4f} on {figures['samples']} images (drop "
                f"{figures['top1_drop_points']:.2f} points; 95 %: {low:.2f} to {high:.2f}){agreement}")
    return (f"{heads}worst cosine {figures['min_cosine']:.4f} (worst of {figures['samples']} "
            f"images){agreement}")


def _better(one: Attempt, other: Attempt, budget: Budget) -> Attempt:
    if one.judgement.rank != other.judgement.rank:
        return one if one.judgement.rank > other.judgement.rank else other
    key = budget.judged_figure
    sign = -1 if key == "top1_drop_points" else 1
    score = lambda attempt: (sign * attempt.figures[key], attempt.figures.get("top1_agreement", 0))  # noqa: E731
    return one if score(one) >= score(other) else other


def _parent(out_dir) -> Path:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
