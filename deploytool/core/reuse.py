"""What the conversions of one search share: calibrate once, quantize many.

The attempts of an accuracy budget (and `deploytool optimize`'s candidates) differ only in which
layers stay float, the calibration method, the number of calibration images or the int8 file's
input and output type. The calibration images, the parity images and the Keras reference's
outputs on them, the prepared (stripped, folded, rewritten) model, its float export and the
format's calibration statistics depend on none of those, or on one only: a :class:`Reuse` makes
each the first time an attempt asks for it, under a key of everything it depends on, and hands
the same one to every later attempt. The format's own quantizer then runs once per attempt on
the statistics already gathered (TFLite: the calibrated model re-quantized with a denylist, as
LiteRT's QuantizationDebugger does; ONNX Runtime: the calibration ranges cached and handed to
its QDQ quantizer with the nodes to exclude).

A conversion given no Reuse makes everything itself, by the same functions: the bytes are the
same either way (a test compares them).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path


class Reuse:
    """Items made once per search and shared by its conversions. ``made`` counts, by kind, how
    many items were made ("prepared", "calibration_images", "tflite_calibration",
    "onnx_export", "onnx_calibration", ...); ``folder`` holds what is kept as a file (ONNX
    Runtime's calibration ranges)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.made: Counter = Counter()
        self._items: dict = {}

    def get(self, kind: str, key, make):
        """The item of ``kind`` under ``key`` (anything hashable), made by ``make()`` the
        first time it is asked for."""
        if (kind, key) not in self._items:
            self._items[(kind, key)] = make()
            self.made[kind] += 1
        return self._items[(kind, key)]

    def first(self, kind: str):
        """The first item of ``kind`` made, or None."""
        return next((item for (made, _), item in self._items.items() if made == kind), None)

    def path(self, kind: str, key, suffix: str) -> tuple[Path, bool]:
        """A file of ``kind`` under ``key`` in :attr:`folder`, and whether it is new (to be
        written by the caller, once)."""
        known = (kind, key) in self._items
        path = self.get(kind, key, lambda: self.folder / f"{kind}-{len(self._items)}{suffix}")
        return path, not known


def made_once(reuse: Reuse | None, kind: str, key, make):
    """``reuse``'s item of ``kind`` under ``key``, or ``make()`` where there is no Reuse."""
    return make() if reuse is None else reuse.get(kind, key, make)
