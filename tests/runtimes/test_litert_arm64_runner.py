"""The app's LiteRT (1.4, aarch64 build) on an emulated ARM64 core: it runs in its own
environment, reports the CPU it emulates, and verify compares it with x86 LiteRT value for value
as well as with Keras."""

import json

import numpy as np
import pytest

from deploytool.core.child import call_in_child
from deploytool.core.environments import PHONE_LITERT_VERSION, require
from deploytool.core.errors import UserError
from deploytool.converters.options import ConvertOptions
from deploytool.runtimes.isolation import run_isolated
from deploytool.runtimes.litert_arm64_runner import LiteRTArm64Runner
from deploytool.sources.model_source import load_source
from deploytool.workflows.conversion.convert import convert
from deploytool.workflows.measuring.bench import bench, emulated_notes
from deploytool.workflows.verification.verify import verify
from support import save_colour_classifier


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arm64")
    model = save_colour_classifier(folder / "m.keras", size=20, filters=6, classes=5, seed=3)
    source = load_source(str(model), preprocess={"preset": "symmetric"})
    return {precision: convert(source, ConvertOptions(to="tflite", precision=precision,
                                                      calib_samples=16, out_dir=folder),
                               remember=False).artifact
            for precision in ("fp32", "int8")}


def images(count=12, size=20):
    return np.random.default_rng(0).uniform(-1, 1, (count, size, size, 3)).astype(np.float32)


def test_the_environment_is_an_emulated_aarch64_cpu_with_the_apps_litert():
    python = require("arm64")
    machine = call_in_child("platform:machine", python=python, timeout=120)
    assert machine.value == "aarch64"
    features = call_in_child("deploytool.runtimes.litert_arm64_runner:cpu_features", python=python,
                             timeout=120).value
    assert {"asimd", "asimddp", "fphp"} <= set(features)  # the Cortex-A76 it emulates by default
    assert "sve" not in features
    version = call_in_child("importlib.metadata:version", "ai-edge-litert", python=python,
                            timeout=120).value
    assert version == PHONE_LITERT_VERSION


def test_the_runner_refuses_to_run_on_this_pcs_cpu(artifacts):
    with pytest.raises(UserError):
        LiteRTArm64Runner(artifacts["fp32"]).load()


def test_int8_outputs_equal_x86_litert_and_float_within_round_off(artifacts):
    for precision, bar in (("int8", 0.0), ("fp32", 1e-5)):
        x86 = run_isolated(artifacts[precision], "tflite", images())
        arm = run_isolated(artifacts[precision], "litert_arm64", images())
        assert arm.ok, arm.error
        assert "cortex-a76" in arm.meta["engine"]
        (name,) = x86.outputs
        assert np.abs(arm.outputs[name] - x86.outputs[name]).max() <= bar


def test_verify_reports_the_arm64_rows_against_keras_and_against_x86(artifacts):
    report = verify([artifacts["int8"]], "litert_arm64", samples=8)
    (row,) = report.rows
    assert row.status == "pass" and row.figures["samples"] == 8
    assert row.agreement["other"] == "tflite" and row.agreement["values"] == 8 * 5
    assert row.agreement["max_steps"] <= 1


def test_verify_fails_an_int8_output_two_steps_from_x86(artifacts, monkeypatch):
    from deploytool.workflows.verification import verify as verifying

    honest = verifying.run_variants

    def shifted(artifact, backend, *args, **kwargs):
        attempts = honest(artifact, backend, *args, **kwargs)
        if backend == "litert_arm64":
            run = attempts[-1].run
            scale = run.meta["outputs"][0]["scale"]
            for values in run.outputs.values():
                values[0, 0] += 2 * scale  # one value, two quantization steps off
        return attempts

    monkeypatch.setattr(verifying, "run_variants", shifted)
    (row,) = verify([artifacts["int8"]], "litert_arm64", samples=8).rows
    assert row.status == "fail" and "runtime_agreement" in row.failed
    assert row.agreement["differing"] == 1 and row.agreement["max_steps"] == 2


def test_a_missing_environment_is_n_a_under_all_with_the_command_that_installs_it(
        artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTOOL_ENVS", str(tmp_path))  # no environment there
    rows = [row for row in verify([artifacts["fp32"]], "all", samples=4).rows
            if row.backend == "litert_arm64"]
    assert [row.status for row in rows] == ["n/a"]
    assert "deploytool setup" in rows[0].failures[0]


def test_bench_marks_emulated_timings_and_never_compares_them_with_float(artifacts):
    rows = [row for row in bench([artifacts["int8"]], "litert_arm64", runs=3, warmup=1)
            if row.backend == "litert_arm64"]
    (row,) = rows
    assert row.status == "ok" and row.emulated and row.median_ms > 0
    assert len(emulated_notes(rows)) == 1
    assert json.loads(json.dumps(row.__dict__))["emulated"] is True
