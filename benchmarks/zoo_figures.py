"""Write the zoo's figures at its default settings (224x224x3, 1000 classes, width 1) to
models/zoo_figures.json, which `deploytool models` reads while the zoo's source is unchanged
(tests/models/test_zoo.py fails, naming this script, when the source changed since).

    .venv/bin/python benchmarks/zoo_figures.py
"""

import time

from deploytool.workflows.zoo import write_figures_cache

if __name__ == "__main__":
    started = time.perf_counter()
    path = write_figures_cache()
    print(f"wrote {path} in {time.perf_counter() - started:.0f} s")
