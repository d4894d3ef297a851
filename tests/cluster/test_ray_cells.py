"""The same cells on Ray: a local instance, and a two-node cluster of separate processes on
127.0.0.1 (a lost worker retried, nothing duplicated, timing steps alone on their node)."""

import os
import signal
import threading
import time

import pytest

from deploytool.cluster.local_cluster import cell_workers
from deploytool.cluster.run import run_cells
from tests.cluster.test_cells import cell

pytestmark = pytest.mark.heavy


def test_cells_on_a_local_ray_instance_give_what_they_give_serially(tmp_path):
    cells = [cell(f"n{i}", "square", i) for i in range(4)] + [cell("raises", "fail", 7)]
    on_ray = run_cells(cells, tmp_path / "ray")
    serially = run_cells(cells, tmp_path / "serial", serial=True)
    assert {k: (r.ok, r.value) for k, r in on_ray.items()} == \
        {k: (r.ok, r.value) for k, r in serially.items()}
    assert on_ray["raises"].error == serially["raises"].error


def test_a_two_node_cluster_runs_cells_on_both_nodes_and_times_each_where_it_was_made(
        tmp_path, two_node_cluster):
    lines = []
    cells = [cell(f"n{i}", "slow_square", i, 2.0, timing=str(cell("t", "timed").function))
             for i in range(4)]
    results = run_cells(cells, tmp_path, address=two_node_cluster, log=lines.append)
    assert [r.value["square"] for r in results.values()] == [0, 1, 4, 9]
    assert len({r.node for r in results.values()}) == 2  # both nodes worked
    for label in results:
        started = next(line for line in lines if line.startswith(f"{label}: started on "))
        timing = next(line for line in lines if line.startswith(f"{label}: timing on "))
        assert started.split(" on ")[1].split(" (")[:2] == timing.split(" on ")[1].split(" (")[:2]


def test_a_worker_killed_mid_cell_is_retried_and_every_cell_comes_back_once(
        tmp_path, two_node_cluster):
    killed = []

    def kill_one():
        for _ in range(600):
            workers = cell_workers()
            if workers:
                time.sleep(1.0)  # well inside the cell's 6 s
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one)
    killer.start()
    cells = [cell(f"n{i}", "slow_square", i, 6.0) for i in range(3)]
    results = run_cells(cells, tmp_path, address=two_node_cluster)
    killer.join()
    assert killed
    assert [r.ok for r in results.values()] == [True] * 3
    assert [r.value["square"] for r in results.values()] == [0, 1, 4]
    assert sorted(r.tries for r in results.values()) == [1, 1, 2]
    assert len(list((tmp_path / "cells").glob("*.json"))) == 3
