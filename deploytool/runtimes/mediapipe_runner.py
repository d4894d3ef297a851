"""MediaPipe Tasks' ImageClassifier, the library phone apps run image models with, created from
the .tflite file alone and fed 8-bit RGB pixels: the file's own metadata, not deploytool's
preprocessing, decides what the model sees (its normalization, and the resize to the model's size).

It runs in MediaPipe's environment (:mod:`deploytool.core.environments`; its OpenCV cannot share
deploytool's), which :mod:`.isolation` starts for it. Each output is one classification head, its
scores in class order; a file the classifier refuses (no metadata, int8 input, per-channel
normalization, a grey image) is a one-line error naming MediaPipe's reason."""

from __future__ import annotations

import numpy as np

from deploytool.core.errors import ClientRefusal, UserError
from deploytool.core.tensors import TensorInfo
from deploytool.runtimes.base import Runner


class MediaPipeRunner(Runner):
    """MediaPipe Tasks' ImageClassifier on a .tflite with metadata, one image at a time."""

    name = "mediapipe"
    label = "MediaPipe Tasks (ImageClassifier)"
    order = 6
    reads = (".tflite",)
    environment = "mediapipe"
    takes_pixels = True

    def _load(self):
        from mediapipe.tasks.python import BaseOptions, vision

        from deploytool.converters.targets.tflite.metadata_writer import (output_shapes,
                                                                           read_metadata)

        metadata = read_metadata(str(self.path))
        if metadata is None:
            raise ClientRefusal(f"{self.path.name}: no TFLite metadata, so MediaPipe cannot tell how "
                            "to feed it (convert writes it where MediaPipe's environment is set up)")
        options = vision.ImageClassifierOptions(
            base_options=BaseOptions(model_asset_path=str(self.path)), max_results=-1)
        try:
            self.classifier = vision.ImageClassifier.create_from_options(options)
        except Exception as exc:  # MediaPipe's own refusal, whatever its type
            lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            raise ClientRefusal(f"{self.path.name}: MediaPipe's ImageClassifier refuses it: "
                            f"{lines[-1].strip()}") from None
        names = [output["name"] for output in metadata["outputs"]]
        self.inputs = [TensorInfo("image", (-1, -1, -1, 3), "uint8", 0.0, 0)]
        self.outputs = [TensorInfo(name, (-1, shape[-1]), "float32", 0.0, 0)
                        for name, shape in zip(names, output_shapes(str(self.path)))]

    @property
    def input_shape(self):
        return (None, None, 3)

    def _checked(self, images: np.ndarray) -> np.ndarray:
        self.load()
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise UserError(f"{self.label} takes 8-bit RGB images (N, H, W, 3), got "
                            f"{images.dtype} {images.shape}")
        return images

    def _run(self, prepared):
        import mediapipe as mp

        results = [[] for _ in self.outputs]
        for image in prepared:
            found = self.classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                      data=np.ascontiguousarray(image)))
            for head in found.classifications:
                scores = np.zeros(self.outputs[head.head_index].shape[-1], np.float32)
                for category in head.categories:
                    scores[category.index] = category.score
                results[head.head_index].append(scores[None])
        return [np.concatenate(found) for found in results]
