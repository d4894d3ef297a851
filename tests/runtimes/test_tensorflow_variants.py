"""TensorFlow's two variants: its default CPU path, and oneDNN turned on (the only one that
runs a grouped Conv2D fused with its bias and ReLU on a CPU where oneDNN is off by default)."""

import numpy as np
import pytest

from deploytool.runtimes.isolation import run_isolated


@pytest.fixture(scope="module")
def lenet_pb(tmp_path_factory):
    from deploytool.converters.options import ConvertOptions
    from deploytool.workflows.conversion.convert import convert

    from support import zoo_source

    out = tmp_path_factory.mktemp("pb")
    return convert(zoo_source("lenet_bn", (28, 28, 1)), ConvertOptions(to="pb", out_dir=out),
                   remember=False).artifact


def test_the_onednn_variant_runs_in_a_fresh_process_says_so_and_computes_the_same(lenet_pb):
    images = np.random.default_rng(0).random((4, 28, 28, 1), np.float32)
    default = run_isolated(lenet_pb, "tensorflow", images, timeout=120)
    onednn = run_isolated(lenet_pb, "tensorflow", images, timeout=120, onednn=True)
    assert default.ok and onednn.ok
    assert default.meta.get("engine") is None
    assert onednn.meta["engine"].startswith("oneDNN")
    (name,) = default.outputs
    assert np.abs(default.outputs[name] - onednn.outputs[name]).max() < 1e-5


def test_onednn_is_turned_on_only_where_tensorflow_has_not_started_without_it(lenet_pb):
    from deploytool.runtimes.tensorflow_runner import TensorFlowRunner, onednn_enabled
    from deploytool.core.keras_env import tf  # noqa: F401 (started, as in convert)

    runner = TensorFlowRunner(lenet_pb, onednn=True)
    if onednn_enabled():  # TensorFlow's default on this CPU already: nothing to switch
        assert runner.load().engine.startswith("oneDNN")
    else:
        with pytest.raises(RuntimeError):
            runner.load()


def test_convert_checks_a_file_its_runtime_refuses_in_process_on_the_variant_that_runs_it(
        tmp_path, monkeypatch):
    """The default path's refusal is made here (this process only); the oneDNN variant runs in
    a child, where nothing is patched, and the manifest says which one gave the parity."""
    from deploytool.converters.options import ConvertOptions
    from deploytool.runtimes.tensorflow_runner import TensorFlowRunner
    from deploytool.workflows.conversion.convert import convert

    from support import zoo_source

    def refuse(self, prepared):
        raise RuntimeError("TensorFlow's runtime refused the graph: UnimplementedError at node x")

    monkeypatch.setattr(TensorFlowRunner, "_run", refuse)
    result = convert(zoo_source("lenet_bn", (28, 28, 1)), ConvertOptions(to="pb", out_dir=tmp_path),
                     remember=False)
    parity = result.manifest.parity
    assert parity["passed"] and parity["runtime"] == "tensorflow"
    assert parity["engine"].startswith("oneDNN")
