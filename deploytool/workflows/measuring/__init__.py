"""Measuring artifacts (`deploytool bench`): latency, throughput, peak memory and size per runtime,
each in its own child process, and where the time goes per operator."""
