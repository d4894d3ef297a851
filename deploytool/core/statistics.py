"""How sure a judged figure is: 95 % intervals for the proportions deploytool reports (top-1 and
nearest-neighbour agreement, accuracy) and for the paired change in accuracy between a float
model and its converted artifact, both computed on the same images."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # the two-sided 95 % normal quantile


def wilson_interval(successes: float, count: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes`` / ``count`` (20 of 20 gives a lower
    bound of 0.839): unlike p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and does not shrink to a
    point at 0 or 1. ``count`` 0 gives (0, 1)."""
    if count <= 0:
        return 0.0, 1.0
    p = successes / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_counts(reference_correct, candidate_correct) -> dict:
    """How the images of a paired comparison split: right for both, for the reference only, for
    the candidate only, for neither."""
    reference = np.asarray(reference_correct, bool)
    candidate = np.asarray(candidate_correct, bool)
    return {"both_right": int(np.sum(reference & candidate)),
            "only_reference_right": int(np.sum(reference & ~candidate)),
            "only_candidate_right": int(np.sum(candidate & ~reference)),
            "both_wrong": int(np.sum(~reference & ~candidate))}


def paired_change_interval(reference_correct, candidate_correct, z: float = Z95) -> tuple[float, float]:
    """95 % interval of candidate accuracy minus reference accuracy when both were judged on the
    same images (Newcombe's hybrid score interval for paired proportions, method 10): the images
    both get right or both get wrong tighten it, as a paired comparison should."""
    return paired_change_interval_of(paired_counts(reference_correct, candidate_correct), z)


def paired_change_interval_of(counts: dict, z: float = Z95) -> tuple[float, float]:
    """:func:`paired_change_interval` from the counts of :func:`paired_counts` (which may be
    scaled to a larger, hypothetical number of images)."""
    both, only_reference = counts["both_right"], counts["only_reference_right"]
    only_candidate, neither = counts["only_candidate_right"], counts["both_wrong"]
    count = both + only_reference + only_candidate + neither
    if count == 0:
        return -1.0, 1.0
    p1, p2 = (both + only_candidate) / count, (both + only_reference) / count  # candidate, reference
    l1, u1 = wilson_interval(both + only_candidate, count, z)
    l2, u2 = wilson_interval(both + only_reference, count, z)
    product = (both + only_candidate) * (only_reference + neither) * (both + only_reference) * \
        (only_candidate + neither)
    phi = 0.0 if product == 0 else (both * neither - only_candidate * only_reference) / math.sqrt(product)
    difference = p1 - p2
    lower = difference - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = difference + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, lower), min(1.0, upper)


def images_needed(bound_at, bar: float, have: int, limit: int = 1_000_000) -> int | None:
    """The fewest images, at least ``have``, at which ``bound_at(count)`` (a figure's 95 % bound
    if the rates seen held on ``count`` images) reaches ``bar``; None when not even ``limit``
    images would (a rate seen exactly at the bar never resolves)."""
    if bound_at(have) >= bar:
        return have
    high = max(have, 1)
    while bound_at(high) < bar:
        if high >= limit:
            return None
        high = min(limit, high * 2)
    low = high // 2 if high > have else have
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if bound_at(middle) >= bar else (middle, high)
    return high


def agreement_images_needed(proportion: float, bar: float, have: int) -> int | None:
    """Images needed for an agreement seen at ``proportion`` to show, by its Wilson lower bound,
    that it is at least ``bar`` (20 of 20 agreeing shows 0.99 from about 381 images)."""
    return images_needed(lambda count: wilson_interval(proportion * count, count)[0], bar, have)


def drop_images_needed(counts: dict, max_drop: float, have: int) -> int | None:
    """Images needed for a paired accuracy comparison with the split of ``counts`` (see
    :func:`paired_counts`) to show, by its lower bound, a drop of at most ``max_drop`` (a
    fraction, 0.01 for a point)."""
    total = sum(counts.values())

    def bound(count):
        scaled = {key: value * count / total for key, value in counts.items()}
        return paired_change_interval_of(scaled)[0]

    return images_needed(bound, -max_drop, have)
