"""How sure a judged figure is: 95 % intervals for the proportions deploytool reports (top-1 and
nearest-neighbour agreement, accuracy) and for the paired change in accuracy between a float
model and its converted artifact, both computed on the same images."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # the two-sided 95 % normal quantile


def wilson_interval(successes: int, count: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes`` / ``count`` (20 of 20 gives a lower
    bound of 0.839): unlike p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and does not shrink to a
    point at 0 or 1. ``count`` 0 gives (0, 1)."""
    if count <= 0:
        return 0.0, 1.0
    p = successes / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_change_interval(reference_correct, candidate_correct, z: float = Z95) -> tuple[float, float]:
    """95 % interval of candidate accuracy minus reference accuracy when both were judged on the
    same images (Newcombe's hybrid score interval for paired proportions, method 10): the images
    both get right or both get wrong tighten it, as a paired comparison should."""
    reference = np.asarray(reference_correct, bool)
    candidate = np.asarray(candidate_correct, bool)
    count = len(reference)
    if count == 0:
        return -1.0, 1.0
    both = int(np.sum(reference & candidate))
    only_candidate = int(np.sum(candidate & ~reference))
    only_reference = int(np.sum(reference & ~candidate))
    neither = count - both - only_candidate - only_reference
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
