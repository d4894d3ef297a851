"""Shared fixtures: every test starts with a fresh Keras graph."""

import pytest

from deploytool.core.keras_env import keras


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Free the models a test built so a long run does not grow without bound."""
    yield
    keras.backend.clear_session()


# Plain "N passed, N failed" lines from test runs of non-Python parts (the Android core), printed
# at the end of the pytest run whatever pytest captured.
SUMMARY_LINES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    for line in SUMMARY_LINES:
        terminalreporter.write_line(line)
