"""Environments of their own: found only when complete and made from today's requirements, never
left half-built, and refused in one line on a host their recipe does not serve."""

import json

import pytest

from deploytool.core import arm64_sysroot, environments


def test_a_host_without_apt_gets_no_arm64_environment_and_nothing_half_built(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTOOL_ENVS", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no apt-get, no dpkg
    with pytest.raises(arm64_sysroot.HostUnsupported):
        environments.install("arm64")
    assert list(tmp_path.iterdir()) == []
    assert environments.python_for("arm64") is None


def test_an_environment_made_from_other_requirements_counts_as_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTOOL_ENVS", str(tmp_path))
    folder = tmp_path / "arm64"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / arm64_sysroot.EMULATOR).write_text("")
    marker = folder / environments.MARKER
    marker.write_text(json.dumps({"requirements": ["ai-edge-litert==1.3.0"]}))
    assert environments.python_for("arm64") is None
    with pytest.raises(environments.EnvironmentMissing):
        environments.require("arm64")
    marker.write_text(json.dumps({"requirements": list(environments.ENVIRONMENTS["arm64"].requirements)}))
    found = environments.python_for("arm64")
    assert found.command[0] == str(folder / "bin" / arm64_sysroot.EMULATOR)
    assert "-cpu" in found.command and dict(found.env)["DEPLOYTOOL_ARM64_CPU"] == "cortex-a76"


def test_the_emulated_core_can_be_chosen(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYTOOL_ARM64_CPU", "cortex-a53")
    found = environments.ENVIRONMENTS["arm64"].interpreter(tmp_path)
    assert found.command[found.command.index("-cpu") + 1] == "cortex-a53"
