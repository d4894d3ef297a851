"""Cells as Ray tasks: on a local Ray instance by default, or on the cluster at an address.

Every step runs :func:`deploytool.cluster.step.run_step` in a Ray task: the cell's function in a
child process of the worker, with the cell's time limit (a crashing runtime is an answer, not a
lost worker). Resources: a step that only computes asks for one CPU; a step that measures time
(an ``exclusive`` cell, or a cell's ``timing`` step) asks for every CPU of one node, pinned there
(Ray's node affinity, not soft), and this driver sends at most one of those to a node at a time,
so a timing is never taken beside other work of the run. A timing step goes to the node whose
first step made the files it times.

A task whose worker dies is retried by Ray (``max_retries``); a cell whose node is gone, or whose
tries are spent, is run again from its first step, up to :data:`TRIES` times in all, then it is a
failed cell: never missing from the page, and never counted twice (results are keyed by cell).
"""

from __future__ import annotations

import functools
import logging
import os
import socket

from deploytool.cluster.cells import Cell, CellResult
from deploytool.cluster.step import run_step
from deploytool.cluster.tally import Tally
from deploytool.core.errors import UserError

TRIES = 3  # a cell whose worker or node is lost runs at most this many times in all
POLL_SECONDS = 1.0
LOCAL_OBJECT_STORE = 256 * 2**20  # the cells' values are small JSON
PROBE_SECONDS = 10  # how long a cluster's head may take to accept a connection


def check_reachable(address: str) -> None:
    """Refuse a cluster address (``HOST:PORT`` or ``ray://HOST:PORT``) where nothing answers:
    Ray's own connection waits minutes for such a head before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and Ray's other forms: Ray resolves them itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS).close()
    except OSError as error:
        raise UserError(f"no Ray cluster answers at {address}: {error.strerror or error} "
                        "(start one with `ray start --head`, or run with --serial)") from None


def connect(address: str | None):
    """Ray, connected to the cluster at ``address`` (None: a local instance of this machine's
    CPUs, started here); :func:`run_on_ray` disconnects (and ends a local instance) when done."""
    import ray

    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE, logging_level=logging.ERROR,
                     log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, OSError) as error:
        last = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        where = f"no Ray cluster could be reached at {address}" if address else \
            "a local Ray instance could not start"
        raise UserError(f"{where}: {last} (--serial runs without Ray)") from None
    return ray


def alive_nodes(ray) -> dict[str, float]:
    """CPUs of every live node with any, by node ID."""
    return {node["NodeID"]: node["Resources"].get("CPU", 0.0) for node in ray.nodes()
            if node["Alive"] and node["Resources"].get("CPU", 0.0) >= 1}


class NodeNames:
    """"192.0.2.2 (node 3f2a9c)": where a node is (the address Ray gives it), and which. Ray's
    node list is asked again only for a node not seen before (one that joined during the run)."""

    def __init__(self, ray):
        self._ray = ray
        self._addresses: dict[str, str] = {}

    def __call__(self, node_id: str) -> str:
        if node_id not in self._addresses:
            self._addresses.update({n["NodeID"]: n["NodeManagerAddress"] for n in self._ray.nodes()})
        return f"{self._addresses.get(node_id, '?')} (node {node_id[:6]})"


@functools.lru_cache(maxsize=None)
def _remote(ray):
    """The Ray task that runs one step, and the actor that hears when steps start."""

    @ray.remote(max_retries=TRIES - 1)
    def cell_step(function, args, timeout, reporter, label, step):
        node = ray.get_runtime_context().get_node_id()
        reporter.started.remote(label, node, step)
        return {**run_step(function, args, timeout), "node": node}

    @ray.remote(num_cpus=0)
    class Reporter:
        def __init__(self):
            self.events = []

        def started(self, label, node, step):
            self.events.append((label, node, step))

        def take(self):
            events, self.events = self.events, []
            return events

    return cell_step, Reporter


def run_on_ray(cells: list[Cell], tally: Tally, on_result, address: str | None = None) -> None:
    """Run ``cells`` as Ray tasks; ``on_result(cell, CellResult)`` as each ends."""
    ray = connect(address)
    try:
        if not alive_nodes(ray):
            raise UserError(f"the Ray cluster at {address} has no live node with a CPU to run cells on")
        _run(ray, cells, tally, on_result)
    finally:
        ray.shutdown()


def _run(ray, cells: list[Cell], tally: Tally, on_result) -> None:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    cell_step, Reporter = _remote(ray)
    reporter = Reporter.remote()
    pending, waiting, busy = {}, [], set()  # busy: nodes with a timing step sent to them
    node_name = NodeNames(ray)

    def submit(cell, tries, stage="run", value=None, node=None, seconds=0.0):
        if stage == "run" and not cell.exclusive:
            ref = cell_step.options(num_cpus=1).remote(cell.function, list(cell.args), cell.timeout,
                                                       reporter, cell.label, "started")
            pending[ref] = (cell, tries, stage, None, seconds)
        else:  # measures time: waits for a node of its own
            waiting.append((cell, tries, stage, value, node, seconds))

    def dispatch():
        nodes = alive_nodes(ray)
        for item in list(waiting):
            cell, tries, stage, value, node, seconds = item
            if node is not None and node not in nodes:  # the files to time are gone with it
                waiting.remove(item)
                lost(cell, tries, "its node left the cluster before the timing step")
                continue
            chosen = node if node is not None else next((n for n in nodes if n not in busy), None)
            if chosen is None or chosen in busy:
                continue
            waiting.remove(item)
            busy.add(chosen)
            function, args = (cell.function, list(cell.args)) if stage == "run" else \
                (cell.timing, [value, *cell.args])
            ref = cell_step.options(
                num_cpus=nodes[chosen],
                scheduling_strategy=NodeAffinitySchedulingStrategy(chosen, soft=False),
            ).remote(function, args, cell.timeout, reporter, cell.label,
                     "timing" if stage == "timing" else "started")
            pending[ref] = (cell, tries, stage, chosen, seconds)

    def lost(cell, tries, why):
        if tries < TRIES:
            tally.retried(cell.label, why)
            submit(cell, tries + 1)
        else:
            on_result(cell, CellResult(cell.label, False, error=f"lost {tries} times ({why})",
                                       tries=tries))

    for cell in cells:
        submit(cell, 1)
    while pending or waiting:
        dispatch()
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
        for label, node, step in ray.get(reporter.take.remote()):
            tally.started(label, node_name(node), step)
        for ref in ready:
            cell, tries, stage, node, seconds = pending.pop(ref)
            busy.discard(node)
            try:
                answer = ray.get(ref)
            except ray.exceptions.RayError as error:
                lost(cell, tries, str(error).strip().splitlines()[0][:200])
                continue
            seconds += answer["seconds"]
            if answer["ok"] and stage == "run" and cell.timing:
                submit(cell, tries, "timing", answer["value"], answer["node"], seconds)
                continue
            on_result(cell, CellResult(cell.label, answer["ok"], answer["value"], answer["error"],
                                       node_name(answer["node"]), seconds, tries,
                                       printed=answer["printed"]))
