"""Child-process entry point: run one artifact on one backend, write the outputs, exit.

    python -m deploytool.runtimes.worker REQUEST.json

The request names the artifact, backend, options, images (.npy) and where to write the outputs
(.npz, one array per output, by name) and metadata (.json). Exit 0 on success; otherwise the last stderr line says why. Nothing
here imports TensorFlow, so a child starts in well under a second.
"""

import json
import sys
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


def main(request_path: str) -> int:
    from deploytool.core.errors import UserError
    from deploytool.runtimes.base import runner_for

    request = json.loads(open(request_path).read())
    try:
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
    except (UserError, RuntimeError, ValueError) as exc:
        print(str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__,
              file=sys.stderr)
        return 3
    np.savez(request["outputs"], **outputs)
    meta = {"inputs": [i.as_dict() for i in runner.inputs],
            "outputs": [o.as_dict() for o in runner.outputs],
            "load_seconds": loaded - started, "infer_seconds": finished - loaded,
            "timings": timings, "peak_rss_bytes": peak_rss_bytes()}
    for extra in ("engine", "input_layout"):
        if hasattr(runner, extra):
            meta[extra] = getattr(runner, extra)
    with open(request["meta"], "w") as handle:
        json.dump(meta, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
