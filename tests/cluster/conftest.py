"""A local Ray cluster on 127.0.0.1 (a head with no CPU for tasks, and two worker nodes of 1 CPU each)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: these tests need the cluster extra "
                          "(pip install 'masque[cluster]'; `make install` installs it)")

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="package")
def cluster() -> Iterator[object]:
    """The cluster, started once for every test module here; the test process is its driver (connected).

    Package scope: it is shut down after the last test of ``tests/cluster``, so its processes are
    gone before other packages' tests (which look for their own child processes) run. Workers
    import masque from this checkout.
    """
    saved = os.environ.get("PYTHONPATH")
    from ray.cluster_utils import Cluster

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    from masque.cluster.runner import connect

    connect(c.address)
    try:
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
