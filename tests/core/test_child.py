"""A function called in a child process: its value, or how the child ended, as an answer."""

import pytest

from deploytool.core.child import call_in_child


def test_a_childs_return_value_comes_back():
    answer = call_in_child("math:hypot", 3, 4, timeout=60)
    assert answer.ok and answer.value == 5.0


def test_an_error_a_crash_and_a_hang_are_answers():
    raised = call_in_child("math:sqrt", -1, timeout=60)
    assert raised.kind == "error" and raised.error == "math domain error"
    assert "Traceback" in raised.stderr
    crashed = call_in_child("os:abort", timeout=60)
    assert crashed.kind == "crash" and "SIGABRT" in crashed.error
    hung = call_in_child("time:sleep", 30, timeout=2)
    assert hung.kind == "timeout"


def test_an_unexpected_exception_is_named_by_its_type():
    answer = call_in_child("json:loads", "{", timeout=60)
    assert answer.kind == "error" and answer.error.startswith("json.decoder.JSONDecodeError")


def test_the_environment_given_reaches_the_child_and_its_output_is_kept():
    answer = call_in_child("os:getenv", "DEPLOYTOOL_CHILD_PROBE", env={"DEPLOYTOOL_CHILD_PROBE": "7"},
                           timeout=60)
    assert answer.value == "7"
    printed = call_in_child("builtins:print", "hello from the child", timeout=60)
    assert printed.ok and printed.stdout == "hello from the child\n"


def test_a_scripts_function_is_named_by_its_file(tmp_path):
    script = tmp_path / "probe_script.py"
    (tmp_path / "probe_helper.py").write_text("TWICE = 2\n")
    script.write_text("from probe_helper import TWICE\n\n\ndef double(x):\n    return TWICE * x\n\n\n"
                      "if __name__ == '__main__':\n    raise SystemExit('not run as a script')\n")
    answer = call_in_child(f"{script}:double", 21, timeout=60)
    assert answer.ok and answer.value == 42


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None]}, "text", None])
def test_json_values_come_back_as_they_went(value):
    answer = call_in_child("copy:copy", value, timeout=60)
    assert answer.ok and answer.value == value
