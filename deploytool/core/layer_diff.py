"""Two runtimes' outputs of the same layers, compared: paired by name, brought into one
arrangement (a map NCHW against NHWC, a flattened vector), each judged by its largest difference
relative to the largest value it holds, and the first layer past a bar found."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class LayerDiff:
    """One layer both runtimes expose: its name, its op in the file and OpenCV's layer type, its
    output's shape, and how far OpenCV's output is from its own runtime's."""

    name: str
    op: str
    backend_type: str
    shape: list
    max_abs: float
    relative: float  # max abs / the largest |value| of the own runtime's output
    cosine: float

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def align(own: np.ndarray, other: np.ndarray) -> np.ndarray | None:
    """``other`` in ``own``'s shape when the two hold the same values in another arrangement (a
    map NCHW against NHWC, a flattened vector), else None."""
    if own.shape == other.shape:
        return other
    if own.size != other.size:
        return None
    if own.ndim == 4 and other.ndim == 4 and other.shape == tuple(own.shape[i] for i in (0, 3, 1, 2)):
        return other.transpose(0, 2, 3, 1)
    return other.reshape(own.shape)


def compare_layers(own: dict, other: dict) -> tuple[list[LayerDiff], int]:
    """A :class:`LayerDiff` for every layer of ``other`` (in its order) that ``own`` has a tensor
    of the same name and size for, and how many layers had none."""
    rows, unmatched = [], 0
    for name, (backend_type, values) in other.items():
        if name not in own or align(own[name][1], values) is None:
            unmatched += 1
            continue
        op, expected = own[name]
        produced = align(expected, values)
        difference = float(np.abs(expected - produced).max())
        scale = float(np.abs(expected).max())
        flat_e, flat_p = expected.reshape(-1).astype(np.float64), produced.reshape(-1).astype(np.float64)
        norms = np.linalg.norm(flat_e) * np.linalg.norm(flat_p)
        cosine = float(flat_e @ flat_p / norms) if norms > 0 else float(np.allclose(flat_e, flat_p))
        relative = difference / scale if scale > 0 else (0.0 if difference == 0 else float("inf"))
        rows.append(LayerDiff(name, op, backend_type, list(expected.shape[1:]), difference,
                              relative, cosine))
    return rows, unmatched


def first_divergence(rows: list[LayerDiff], bar: float) -> tuple[int | None, float | None]:
    """The index of the first layer over ``bar`` and the largest difference before it."""
    for index, row in enumerate(rows):
        if row.relative > bar:
            return index, max((r.relative for r in rows[:index]), default=None)
    return None, None
