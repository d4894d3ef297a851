"""What a runtime's child process does: run one artifact on one backend, write the outputs.
Called through :func:`deploytool.core.child.call_in_child` (``deploytool.runtimes.worker:infer``)
by :func:`deploytool.runtimes.isolation.run_isolated`. Nothing here imports TensorFlow, so a
child starts in well under a second.
"""

import time

import numpy as np


def peak_rss_bytes() -> int | None:
    """This process's peak resident memory: VmHWM, which belongs to this address space (unlike
    ru_maxrss, which Linux carries over from the parent across fork and exec). None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def infer(request: dict) -> dict:
    """Load ``request["artifact"]`` on ``request["backend"]`` (``threads``, constructor
    ``options``), infer the images in ``request["images"]`` (.npy) and write the outputs to
    ``request["outputs"]`` (.npz, one array per output, by name); with ``mode`` "bench", time
    ``runs`` calls after ``warmup`` first (on the first ``batch`` images when given). Returns
    the inputs, outputs, timings, peak memory and the runner's engine and layout."""
    from deploytool.runtimes.base import runner_for

    started = time.perf_counter()
    runner = runner_for(request["artifact"], request["backend"], request.get("threads", 2),
                        **request.get("options", {})).load()
    loaded = time.perf_counter()
    images = np.load(request["images"])
    timings = None
    if request.get("mode") == "bench":
        timed = images[:request["batch"]] if request.get("batch") else images
        timings = runner.time_inference(timed, request.get("runs", 30), request.get("warmup", 5),
                                        request.get("min_seconds", 0.0))
    outputs = runner.infer_all(images)
    finished = time.perf_counter()
    np.savez(request["outputs"], **outputs)
    meta = {"inputs": [i.as_dict() for i in runner.inputs],
            "outputs": [o.as_dict() for o in runner.outputs],
            "load_seconds": loaded - started, "infer_seconds": finished - loaded,
            "timings": timings, "peak_rss_bytes": peak_rss_bytes()}
    for extra in ("engine", "input_layout"):
        if hasattr(runner, extra):
            meta[extra] = getattr(runner, extra)
    return meta
