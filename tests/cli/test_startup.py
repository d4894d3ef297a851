"""The command line starts without TensorFlow: `deploytool --help`, the option choices read from
the registries and `inspect` of an artifact stay quick; only the commands that need it load it."""

import json
import re
import subprocess
import sys


def test_the_command_line_and_its_registries_load_without_tensorflow():
    code = ("import sys, json\nfrom deploytool.cli import main\n"
            "from deploytool.converters.targets.registry import targets\n"
            "from deploytool.runtimes.base import runners\n"
            "print(json.dumps([list(targets()), list(runners()), 'tensorflow' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    found_targets, found_runners, imported = json.loads(done.stdout)
    assert found_targets == ["tflite", "onnx", "pb"]
    assert found_runners == ["keras", "tflite", "onnxruntime", "opencv", "tensorflow", "mediapipe", "litert_arm64"]
    assert imported is False


def test_python_dash_m_deploytool_is_the_command_line():
    done = subprocess.run([sys.executable, "-m", "deploytool", "--version"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "deploytool, version 0.1.0" in done.stdout


def test_every_commands_help_has_an_example_and_names_what_the_registries_hold():
    from deploytool.cli import main
    from deploytool.converters.targets.registry import targets
    from deploytool.runtimes.base import artifact_runtimes, runners

    from support import run_cli

    for name in main.commands:
        text = " ".join(run_cli(name, "--help").output.split())
        assert re.search(rf"Example: deploytool {name}(\s|$)", text), name
    formats = [target.suffix for target in targets().values()]
    labels = [" ".join(runners()[name].label.split()) for name in artifact_runtimes()]
    for name, expected in (("convert", formats), ("inspect", formats), ("verify", labels),
                           ("bench", labels)):
        text = " ".join(run_cli(name, "--help").output.split())
        assert all(item in text for item in expected), (name, expected)
