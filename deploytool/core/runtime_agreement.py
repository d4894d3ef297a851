"""Two runtimes that should compute the same numbers, compared value for value: the app's LiteRT
on an ARM64 core against LiteRT on x86, on the same file and the same images. Float outputs are
judged against the Keras reference like any runtime's (the precision's bars); this adds what a
bar hides: how many values differ at all, and, for an output the file gives as integers, by how
many quantization steps (more than one step is a different kernel's result, not rounding)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MAX_STEPS = 1  # quantized outputs: equal, or one step apart (a rounding tie broken differently)


@dataclass(frozen=True)
class Agreement:
    """One output of one runtime against another's: values compared, how many differ, the
    largest difference, and for a quantized output the largest in quantization steps."""

    output: str
    other: str
    values: int
    differing: int
    max_abs: float
    max_steps: int | None = None  # quantized outputs only

    @property
    def failed(self) -> bool:
        """A quantized output more than :data:`MAX_STEPS` steps from the other runtime's."""
        return self.max_steps is not None and self.max_steps > MAX_STEPS

    def as_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)

    def note(self) -> str:
        """One line for a table."""
        said = f"against {self.other}: {self.differing} of {self.values} values differ"
        if self.differing:
            said += (f", by at most {self.max_steps} quantization step"
                     f"{'s' if self.max_steps != 1 else ''}" if self.max_steps is not None
                     else f", max abs {self.max_abs:.1e}")
        return said


def agreement(outputs: dict[str, np.ndarray], others: dict[str, np.ndarray], declared: list,
              other: str) -> list[Agreement]:
    """Each output in ``outputs`` (float32, as the runners give them) against the same output of
    runtime ``other``; ``declared`` is the file's outputs as the runner described them (a
    quantization scale above 0 marks an integer output)."""
    scales = {info["name"]: info.get("scale") or 0.0 for info in declared}
    found = []
    for name, values in outputs.items():
        if name not in others:
            continue
        difference = np.abs(np.asarray(values, np.float64) - np.asarray(others[name], np.float64))
        steps = None
        if scales.get(name):
            steps = int(np.rint(difference / scales[name]).max()) if difference.size else 0
        found.append(Agreement(name, other, int(difference.size), int((difference > 0).sum()),
                               float(difference.max()) if difference.size else 0.0, steps))
    return found
