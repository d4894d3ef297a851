"""What an int8 accuracy budget asks (`--max-drop`, `--min-cosine`, `--min-agreement`) and how a
conversion's held-out figures are judged against it.

A budget is a claim about the images the artifact will meet, not only those it was tried on, so
it is judged by the 95 % interval's bound: an agreement by its Wilson lower bound, an accuracy
drop by the lower bound of the paired change (Newcombe). Figures that meet the bar only as point
estimates are *not resolvable* with the images given, and the judgement says how many images, at
the rates seen, would resolve it. A cosine budget (``--min-cosine C``) is judged the same way, as
the share of images whose cosine reaches C: it promises that at least ``cosine_share`` of the
images (95 % by default) reach C, met when the Wilson lower bound of the share seen clears it. A
worst case over 20 images shows only that at least about 84 % of images reach the bar; a file
matching float on every image shows 95 % from 73 images.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploytool.core.errors import UserError
from deploytool.core.statistics import (agreement_images_needed, drop_images_needed,
                                         paired_change_interval_of, wilson_interval)

MET, NOT_RESOLVABLE, MISSED = "met", "not resolvable", "not met"
_RANK = {MET: 2, NOT_RESOLVABLE: 1, MISSED: 0}


@dataclass(frozen=True)
class Judgement:
    """A budget's verdict on one attempt's figures: met, not met, or not resolvable with the
    images judged (``needed``: about how many images would resolve it at the rates seen; None
    when no number would); ``reasons`` say which criterion decided, with its count and bound."""

    verdict: str
    samples: int
    reasons: list[str] = field(default_factory=list)
    needed: int | None = None

    @property
    def met(self) -> bool:
        """Met by the interval's bound, not only by the point figure."""
        return self.verdict == MET

    @property
    def rank(self) -> int:
        """Met above not resolvable above not met."""
        return _RANK[self.verdict]

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return {"verdict": self.verdict, "samples": self.samples, "reasons": list(self.reasons),
                "needed_images": self.needed}


def _judge_share(share: float, low: float, bar: float, words: str, samples: int,
                 missed: list, unresolved: list, needed: list) -> None:
    """A share of images (``share`` seen, ``low`` its Wilson lower bound) against ``bar``:
    missed when the share itself is below it, not resolvable when only its bound is (with the
    images that would resolve it), else met (nothing added)."""
    if share < bar:
        missed.append(f"{words} < {bar:g}")
    elif low < bar:
        unresolved.append(f"{words}: its lower bound is below {bar:g}")
        needed.append(agreement_images_needed(share, bar, samples))


@dataclass(frozen=True)
class Budget:
    """The accuracy an int8 artifact must keep on held-out images: at most ``max_drop`` top-1
    points below float (labelled images) or a cosine of at least ``min_cosine`` on at least
    ``cosine_share`` of the images; and/or the same top-1 decision as float on at least
    ``min_agreement`` of the images (accuracy alone can hide an int8 model that is right on
    other images than float; on unlabelled images the agreement alone is a budget)."""

    max_drop: float | None = None
    min_cosine: float | None = None
    min_agreement: float | None = None
    cosine_share: float = 0.95

    def check(self) -> None:
        """At most one of the accuracy and cosine criteria, at least one criterion in all, each
        in range."""
        if self.max_drop is not None and self.min_cosine is not None or \
                (self.max_drop, self.min_cosine, self.min_agreement) == (None, None, None):
            raise UserError("give one accuracy budget: --max-drop POINTS or --min-cosine C, with "
                            "or without --min-agreement F (or --min-agreement F alone)")
        if self.max_drop is not None and not 0 <= self.max_drop <= 100:
            raise UserError(f"--max-drop is in top-1 points (0..100), got {self.max_drop}")
        if self.min_cosine is not None and not -1 <= self.min_cosine <= 1:
            raise UserError(f"--min-cosine must lie in [-1, 1], got {self.min_cosine}")
        if not 0 < self.cosine_share <= 1:
            raise UserError(f"--cosine-share is a fraction of the images (0..1], got {self.cosine_share}")
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise UserError(f"--min-agreement is a fraction of the images (0..1), got {self.min_agreement}")

    def judge(self, figures: dict) -> Judgement:
        """Held-out ``figures`` (one artifact's, the worst head's for several outputs) against the
        budget: not met when a point figure misses, not resolvable when every point figure meets
        it and some 95 % bound does not, met when every bound does."""
        samples = int(figures["samples"])
        missed, unresolved, needed = [], [], []
        if self.min_agreement is not None:
            agreement = figures["top1_agreement"]
            low, high = figures.get("top1_agreement_interval") or wilson_interval(
                round(agreement * samples), samples)
            words = (f"top-1 agreement {agreement:.3f} ({round(agreement * samples)}/{samples}; "
                     f"95 %: {low:.3f}-{high:.3f})")
            _judge_share(agreement, low, self.min_agreement, words, samples,
                         missed, unresolved, needed)
        if self.max_drop is not None:
            drop = figures["top1_drop_points"]
            worst = -100.0 * figures["accuracy_change_interval"][0]
            words = f"top-1 drop {drop:.2f} points (95 %: up to {worst:.2f}, {samples} images)"
            if drop > self.max_drop + 1e-9:
                missed.append(f"{words} > {self.max_drop:g}")
            elif worst > self.max_drop + 1e-9:
                unresolved.append(f"{words}: its bound is above {self.max_drop:g}")
                needed.append(drop_images_needed(figures["accuracy_pairs"], self.max_drop / 100,
                                                 samples))
        if self.min_cosine is not None:
            self._judge_cosine(figures, samples, missed, unresolved, needed)
        if missed:
            return Judgement(MISSED, samples, missed)
        if unresolved:
            return Judgement(NOT_RESOLVABLE, samples, unresolved,
                             None if None in needed else max(needed))
        return Judgement(MET, samples)

    def _judge_cosine(self, figures: dict, samples: int, missed: list, unresolved: list,
                      needed: list) -> None:
        """The cosine criterion: the share of images at ``min_cosine`` or above, by its Wilson
        lower bound (figures counted at another bar, or none, are judged by the worst image:
        met by none when it misses)."""
        reached = figures.get("images_at_cosine_bar")
        if reached is None or figures.get("cosine_bar") != self.min_cosine:
            reached = samples if figures["min_cosine"] >= self.min_cosine else 0
        share = reached / samples
        low, high = wilson_interval(reached, samples)
        words = (f"cosine >= {self.min_cosine:g} on a share {share:.3f} of images "
                 f"({reached}/{samples}; 95 %: {low:.3f}-{high:.3f}; worst "
                 f"{figures['min_cosine']:.4f})")
        _judge_share(share, low, self.cosine_share, words, samples, missed, unresolved, needed)

    def judge_perfect(self, figures: dict) -> Judgement:
        """How an attempt that kept every decision of float (and every cosine at 1) on the same
        images would be judged: when even it is not met, no attempt can be shown to meet the
        budget on these images, and its ``needed`` says how many images would do."""
        samples = int(figures["samples"])
        perfect = {**figures, "top1_agreement": 1.0, "top1_agreement_interval": None,
                   "min_cosine": 1.0, "images_at_cosine_bar": samples,
                   "cosine_bar": self.min_cosine}
        if self.max_drop is not None:
            pairs = figures["accuracy_pairs"]
            right = pairs["both_right"] + pairs["only_reference_right"]
            pairs = {"both_right": right, "only_reference_right": 0, "only_candidate_right": 0,
                     "both_wrong": samples - right}
            perfect.update(top1_drop_points=0.0, accuracy_pairs=pairs,
                           accuracy_change_interval=list(paired_change_interval_of(pairs)))
        return self.judge(perfect)

    @property
    def judged_figure(self) -> str:
        """The figure attempts are ranked by: the accuracy drop, else the cosine, else the
        agreement."""
        if self.max_drop is not None:
            return "top1_drop_points"
        return "min_cosine" if self.min_cosine is not None else "top1_agreement"

    def describe(self) -> str:
        """The budget in words."""
        words = []
        if self.max_drop is not None:
            words.append(f"top-1 drop <= {self.max_drop:g} points")
        if self.min_cosine is not None:
            words.append(f"cosine >= {self.min_cosine:g} on at least {self.cosine_share:.0%} of "
                         "images")
        if self.min_agreement is not None:
            words.append(f"top-1 agreement >= {self.min_agreement:g}")
        return ", ".join(words)
