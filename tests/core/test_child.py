"""A function called in a child process: its value, or how the child ended, as an answer."""

from deploytool.core.child import call_in_child


def test_a_childs_return_value_comes_back():
    answer = call_in_child("math:hypot", 3, 4, timeout=60)
    assert answer.ok and answer.value == 5.0


def test_an_error_a_crash_and_a_hang_are_answers():
    raised = call_in_child("math:sqrt", -1, timeout=60)
    assert raised.kind == "error" and "ValueError" in raised.error
    crashed = call_in_child("os:abort", timeout=60)
    assert crashed.kind == "crash" and "SIGABRT" in crashed.error
    hung = call_in_child("time:sleep", 30, timeout=2)
    assert hung.kind == "timeout"
