"""MediaPipe Tasks' image tasks, the library phone apps run image models with, created from the
.tflite file alone and fed 8-bit RGB pixels: the file's own metadata, not deploytool's
preprocessing, decides what the model sees (its normalization, and the resize to the model's size).
A model whose one output is an embedding (its manifest says) runs on the ImageEmbedder, one whose
one output is a dense map on the ImageSegmenter (its confidence masks, which MediaPipe returns at
the image's size: see :func:`deploytool.core.output_parity.compare_every_output`'s
``maps_at_image_size``), any other with [1, N] outputs on the ImageClassifier.

It runs in MediaPipe's environment (:mod:`deploytool.core.environments`; its OpenCV cannot share
deploytool's), which :mod:`.isolation` starts for it. Each output is one classification head, its
scores in class order; a file the classifier refuses (no metadata, int8 input, per-channel
normalization, a grey image) is a one-line error naming MediaPipe's reason."""

from __future__ import annotations

import numpy as np

from deploytool.core.errors import ClientRefusal, UserError
from deploytool.core.tensors import TensorInfo
from deploytool.runtimes.base import Runner


def _output_kinds(path) -> list[str]:
    """The kinds of the file's outputs as its manifest records them ([] without a manifest)."""
    from deploytool.core.manifest import Manifest

    try:
        return list(Manifest.read(path).output_kinds.values())
    except UserError:
        return []


TASKS = {("embedding",): "ImageEmbedder", ("dense",): "ImageSegmenter"}  # by the file's outputs
# each task's options beside the model file: every score, raw embeddings, confidence masks
TASK_OPTIONS = {"ImageClassifier": {"max_results": -1},
                "ImageEmbedder": {"l2_normalize": False, "quantize": False},
                "ImageSegmenter": {"output_confidence_masks": True, "output_category_mask": False}}


class MediaPipeRunner(Runner):
    """MediaPipe Tasks' ImageClassifier, ImageEmbedder or ImageSegmenter on a .tflite with
    metadata, one image at a time."""

    name = "mediapipe"
    label = "MediaPipe Tasks (ImageClassifier, ImageEmbedder, ImageSegmenter)"
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
            raise ClientRefusal(f"{self.path.name}: no TFLite metadata, so MediaPipe cannot tell "
                                "how to feed it (convert writes it where MediaPipe's environment "
                                "is set up)")
        kinds = _output_kinds(self.path)
        if "dense" in kinds and kinds != ["dense"]:
            raise UserError(f"{self.path.name}: no MediaPipe task takes a dense map beside other "
                            "outputs (its ImageSegmenter takes a file of one)")
        self.task = TASKS.get(tuple(kinds), "ImageClassifier")
        options = getattr(vision, f"{self.task}Options")(
            base_options=BaseOptions(model_asset_path=str(self.path)), **TASK_OPTIONS[self.task])
        try:
            self.client = getattr(vision, self.task).create_from_options(options)
        except Exception as exc:  # MediaPipe's own refusal, whatever its type
            lines = [line for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
            raise ClientRefusal(f"{self.path.name}: MediaPipe's {self.task} refuses it: "
                                f"{lines[-1].strip()}") from None
        self.engine = self.task
        names = [output["name"] for output in metadata["outputs"]]
        self.inputs = [TensorInfo("image", (-1, -1, -1, 3), "uint8", 0.0, 0)]
        free = (-1, -1, -1) if self.task == "ImageSegmenter" else (-1,)  # masks: the image's size
        self.outputs = [TensorInfo(name, (*free, shape[-1]), "float32", 0.0, 0)
                        for name, shape in zip(names, output_shapes(str(self.path)))]

    @property
    def input_shape(self):
        return (None, None, 3)

    def _checked(self, images: np.ndarray) -> np.ndarray:
        self.load()
        images = np.asarray(images)
        if images.ndim == 4 and images.shape[-1] == 1:  # a grey image, as an app's RGB bitmap holds it
            images = np.repeat(images, 3, axis=-1)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise UserError(f"{self.label} takes 8-bit RGB images (N, H, W, 3), got "
                            f"{images.dtype} {images.shape}")
        return images

    def _run(self, prepared):
        import mediapipe as mp

        results = [[] for _ in self.outputs]
        for image in prepared:
            pixels = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
            if self.task == "ImageEmbedder":
                for head in self.client.embed(pixels).embeddings:
                    results[head.head_index].append(np.asarray(head.embedding, np.float32)[None])
                continue
            if self.task == "ImageSegmenter":  # one (H, W) mask per channel of the one map
                masks = self.client.segment(pixels).confidence_masks
                results[0].append(np.stack([np.asarray(mask.numpy_view(), np.float32).reshape(
                    image.shape[:2]) for mask in masks], axis=-1)[None])
                continue
            found = self.client.classify(pixels)
            for head in found.classifications:
                scores = np.zeros(self.outputs[head.head_index].shape[-1], np.float32)
                for category in head.categories:
                    scores[category.index] = category.score
                results[head.head_index].append(scores[None])
        return [np.concatenate(found) for found in results]
