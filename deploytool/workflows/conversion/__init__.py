"""One conversion (`deploytool convert`): the passes, calibration, the target's export, the quick
parity check and the manifest; and its quantization-aware step."""
