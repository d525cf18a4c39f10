import os
import subprocess
import sys

import pytest

from conftest import ROOT, in_ci
from reprolab.common import labels
from reprolab.engines import engine
from reprolab.common.errors import EngineError


@pytest.fixture(scope="session")
def client():
    """The real engine. Missing engine: a failure under CI=true, a skip with the reason elsewhere."""
    try:
        c = engine.connect()
    except EngineError as exc:
        if in_ci():
            pytest.fail(f"CI=true and no Docker engine: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    for suite in ("bookworm",):
        try:
            c.images.get(f"debian:{suite}")
        except Exception:
            pytest.fail(f"base image debian:{suite} missing; run 'python lab.py base' (make test does)")
    return c


def lab(*args, env=None, timeout=1800, **kw):
    """Run lab.py as a user would; returns CompletedProcess with text output."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "lab.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT, **kw)


def lab_containers(client, run_id=None):
    label = labels.RUN + (f"={run_id}" if run_id else "")
    return client.containers.list(all=True, filters={"label": label})
