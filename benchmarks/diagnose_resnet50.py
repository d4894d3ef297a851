"""How long `deploytool diagnose` takes on ResNet-50 at 224x224x3 int8 (TFLite; random weights
with randomised BatchNorm statistics), on 2 cores: the int8 conversion first, then the diagnosis
timed alone (32 photos, the default).

    .venv/bin/python benchmarks/diagnose_resnet50.py [--out /tmp/deploytool-diagnose]
"""

import argparse
import os
import time
from pathlib import Path

from deploytool.converters.options import ConvertOptions
from deploytool.models.weights import randomize_batchnorm
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.quantization.diagnose import diagnose


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/deploytool-diagnose", type=Path)
    args = parser.parse_args()
    os.chdir(args.out.parent) if args.out.parent.exists() else None
    source = load_source("resnet50", input_shape=(224, 224, 3), num_classes=1000)
    randomize_batchnorm(source.model, seed=0)
    started = time.perf_counter()
    artifact = convert(source, ConvertOptions(precision="int8", out_dir=args.out)).artifact
    converted = time.perf_counter() - started
    started = time.perf_counter()
    report = diagnose(artifact)
    seconds = time.perf_counter() - started
    print(f"int8 conversion {converted:.0f} s; diagnose {seconds:.0f} s on {report.images['samples']} "
          f"images, {len(report.rows)} quantized layers; {report.summary()}")


if __name__ == "__main__":
    main()
