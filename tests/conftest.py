"""Shared fixtures: every test starts with a fresh Keras graph."""

import pytest

from deploytool.keras_env import keras


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Free the models a test built so a long run does not grow without bound."""
    yield
    keras.backend.clear_session()
