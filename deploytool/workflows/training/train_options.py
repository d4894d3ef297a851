"""The settings of one training run, apart from the training itself so that reading them (the
CLI's defaults, a run folder's metrics) imports no TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

from deploytool.core.errors import UserError


@dataclass
class TrainOptions:
    """Settings of one training run (all recorded in metrics.json)."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float | None = None  # default: the zoo model's own (models.ModelSpec)
    input_shape: tuple | None = None  # default: 28x28x1 for digit sets, 224x224x3 for folders
    width: float = 1.0
    validation_fraction: float = 0.1
    mixed_precision: bool = False
    early_stopping: int | None = None  # patience in epochs
    resume: bool = False
    seed: int = 0
    # the input the model is trained on: preset, mean, std, channel_order (default 0..1)
    preprocess: dict | None = None

    def check(self) -> None:
        """Refuse impossible settings before anything is read or written."""
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise UserError(f"--learning-rate must be positive, got {self.learning_rate}")
        if not 0 < self.validation_fraction < 1:
            raise UserError(f"validation fraction must be in (0, 1), got {self.validation_fraction}")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise UserError(f"--early-stopping patience must be at least 1, got {self.early_stopping}")
