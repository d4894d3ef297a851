"""deploytool: classic CNNs from a Keras definition to a verified on-device model."""

__version__ = "0.1.0"
