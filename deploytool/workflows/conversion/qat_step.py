"""The quantization-aware step of a conversion: fine-tune with fake quantization on labelled data,
then report float, QAT int8 and PTQ int8 accuracy after the same fine-tuning."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deploytool.converters.options import ConvertOptions
from deploytool.converters.passes.fold_batchnorm import fold_batchnorm
from deploytool.converters.targets.tflite.export import export_tflite
from deploytool.core.errors import UserError
from deploytool.core.fileio import write_bytes
from deploytool.core.postprocess import postprocess
from deploytool.runtimes.base import runner_for
from deploytool.runtimes.keras_runner import KerasRunner
from deploytool.sources.model_source import ModelSource


def artifact_accuracy(artifact, images, labels, step) -> float:
    """Top-1 accuracy of an artifact on labelled, preprocessed images."""
    outputs = postprocess(runner_for(artifact).infer(images), step)
    return float(np.mean(outputs.argmax(1) == labels))


def qat_model_for(source: ModelSource, logits_model, options: ConvertOptions, log):
    """Fine-tune ``logits_model`` quantization-aware on the training split of the QAT data set;
    returns the QAT model and the labelled data for the report."""
    from deploytool.converters.passes.qat import qat_finetune
    from deploytool.sources.datasets import load_dataset_for

    data = options.data_for(source)
    name = data.name
    if data.is_array:
        raise UserError("--qat fine-tunes on labelled data: give a data set name as --calib-data")
    dataset = load_dataset_for(name, source.preprocessing)
    if not dataset.labelled:
        raise UserError(f"--qat fine-tunes on labelled data, and '{name}' has no labels: give a "
                        "labelled set as --calib-data (digits, mnist, folder:PATH)")
    train = (source.preprocessing.apply(dataset.x_train), dataset.y_train)
    test = (source.preprocessing.apply(dataset.x_test), dataset.y_test)
    log(f"quantization-aware fine-tuning: {options.qat_epochs} epoch(s) on {len(train[0])} "
        f"'{name}' training images")
    qat_model, history = qat_finetune(logits_model, *train, epochs=options.qat_epochs,
                                      seed=options.seed)
    return qat_model, {"dataset": name, "train": train, "test": test, "history": history}


def qat_report(model, logits_model, artifact, options, calibration, qat_data, step, log) -> dict:
    """Accuracy of the float source, of the QAT int8 artifact, and of PTQ int8 after the very same
    fine-tuning without fake quantization: the last two differ only by what QAT did."""
    import tempfile

    from deploytool.converters.passes.qat import float_finetune

    images, labels = qat_data["test"]
    float_accuracy = float(np.mean(KerasRunner(model=model).infer(images).argmax(1) == labels))
    qat_accuracy = artifact_accuracy(artifact, images, labels, step)
    finetuned, _ = float_finetune(logits_model, *qat_data["train"], epochs=options.qat_epochs,
                                  seed=options.seed)
    finetuned_accuracy = float(np.mean(finetuned.predict(images, verbose=0).argmax(1) == labels))
    ptq_model, _ = fold_batchnorm(finetuned)
    with tempfile.TemporaryDirectory(prefix="deploytool-ptq-") as tmp:
        ptq_path = write_bytes(Path(tmp) / "ptq.tflite",
                               export_tflite(ptq_model, "int8", calibration.images,
                                             options.target_options.int8_io))
        ptq_accuracy = artifact_accuracy(ptq_path, images, labels, step)
    report = {"dataset": qat_data["dataset"], "test_images": int(len(images)),
              "epochs": options.qat_epochs, "float_accuracy": float_accuracy,
              "finetuned_float_accuracy": finetuned_accuracy,
              "qat_int8_accuracy": qat_accuracy,
              "ptq_int8_accuracy_after_same_finetuning": ptq_accuracy,
              "history": qat_data["history"]}
    log(f"test accuracy on {len(images)} '{qat_data['dataset']}' images: float {float_accuracy:.4f}, "
        f"QAT int8 {qat_accuracy:.4f}, PTQ int8 after the same fine-tuning {ptq_accuracy:.4f}")
    return report
