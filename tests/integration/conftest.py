import os
import subprocess
import sys

import docker
import pytest

from conftest import FIXTURES, ROOT, in_ci
from reprolab.common import labels
from reprolab.engines import bases, engine
from reprolab.common.errors import EngineError

# The images a test uses come from a session fixture below, which builds them when they are missing
# (the layer cache and the lab's reuse check make that cheap when they are there), never from what
# another test happened to build before it: each module passes alone on a fresh engine
# (scripts/clean-test-images.sh removes the fixtures' images; .ci/run does so before make test).


@pytest.fixture(scope="session")
def client():
    """The real engine. Missing engine: a failure under CI=true, a skip with the reason elsewhere."""
    try:
        c = engine.connect()
    except EngineError as exc:
        if in_ci():
            pytest.fail(f"CI=true and no Docker engine: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    # the base most tests use directly: made here (debootstrap) when it is missing
    base = bases.ensure_suite(c, "bookworm")
    if not base.available:
        pytest.fail(f"base image debian:bookworm: {base.reason}")
    return c


OUTCOMES = ("present", "absent", "hangs", "crashes")  # the fixture's variants that have an image here


@pytest.fixture(scope="session")
def outcome_images(client):
    """{variant: tag} of the fixture scenario's images on bookworm, built (or reused) by `lab.py
    build` as a user would, for tests that start containers from them or time a run by them."""
    proc = lab("--scenarios", str(FIXTURES / "scenarios"), "build", *[f"outcomes:{v}" for v in OUTCOMES])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tags = {v: f"reprolab/outcomes:{v}-bookworm" for v in OUTCOMES}
    for tag in tags.values():
        client.images.get(tag)
    return tags


def lab(*args, env=None, timeout=1800, **kw):
    """Run lab.py as a user would; returns CompletedProcess with text output."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "lab.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT, **kw)


def lab_containers(client, run_id=None):
    """The lab's containers (of one run). One removed between the listing and its inspection (the
    run ended it meanwhile, as it should) is gone, not an error: containers.list would raise NotFound."""
    label = labels.RUN + (f"={run_id}" if run_id else "")
    found = []
    for row in client.api.containers(all=True, filters={"label": label}):
        try:
            found.append(client.containers.get(row["Id"]))
        except docker.errors.NotFound:
            pass
    return found


def variant_containers(client, run_id, variant, status=None):
    """The containers of a run that run `variant` (optionally only those in `status`). A run's
    record is on disk before its first container, and its calibration and privilege-probe containers
    carry its run label too: a test waiting for a variant to be under way waits for this, not for
    any container of the run."""
    return [c for c in lab_containers(client, run_id) if c.labels.get(labels.VARIANT) == variant
            and (status is None or c.status == status)]
