"""The Keras reference: a tf_keras model file (or an in-memory model) in inference mode, called
as one compiled ``tf.function`` (``predict_on_batch`` adds tens of milliseconds of per-call
overhead, which would swamp the model's own time in a benchmark)."""

from __future__ import annotations

import numpy as np

from deploytool.core.tensors import TensorInfo
from deploytool.runtimes.base import DEFAULT_THREADS, Runner


class KerasRunner(Runner):
    """Runs a Keras model; its outputs are named as the model names them (the layers that
    produce them)."""

    name = "keras"
    label = "Keras"
    order = 0

    def __init__(self, path=None, threads: int = DEFAULT_THREADS, model=None):
        super().__init__(path or getattr(model, "name", "model"), threads)
        self.model = model

    def _check_source(self) -> None:
        if self.model is None:  # an in-memory model has no file to check
            super()._check_source()

    def _load(self):
        if self.model is None:
            from deploytool.core.keras_env import tf
            from deploytool.sources.keras_files import load_keras_file

            try:  # possible only before TensorFlow's runtime starts (a fresh child process)
                tf.config.threading.set_intra_op_parallelism_threads(self.threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:
                pass
            self.model = load_keras_file(self.path)
        self.inputs = [TensorInfo(t.name, tuple(-1 if d is None else d for d in t.shape), "float32")
                       for t in self.model.inputs]
        from deploytool.core.model_outputs import output_names

        self.outputs = [TensorInfo(name, tuple(-1 if d is None else d for d in t.shape), "float32")
                        for name, t in zip(output_names(self.model), self.model.outputs)]
        from deploytool.core.keras_env import tf

        model = self.model
        self._call = tf.function(lambda images: model(images, training=False), autograph=False,
                                 reduce_retracing=True)

    @property
    def input_shape(self):
        return tuple(None if d is None else int(d) for d in self.model.input_shape[1:])

    def _run(self, prepared):
        from deploytool.core.model_outputs import flat_outputs

        return [np.asarray(values) for values in flat_outputs(self.model, self._call(prepared))]
