"""Checking artifacts (`deploytool verify`): every artifact on every runtime that reads it against
its Keras reference, output by output, with the layer search's findings where OpenCV fails."""
