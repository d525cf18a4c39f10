"""Two scenarios use one shared helper from _shared/ in real builds and containers."""

import pytest

from conftest import FIXTURES
from integration.conftest import lab
from reprolab.results import record

pytestmark = pytest.mark.docker


def test_two_scenarios_share_one_helper(client, tmp_path):
    proc = lab("--scenarios", str(FIXTURES / "shared"), "--results", str(tmp_path), "run", "all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(tmp_path))
    assert {r["scenario"]: (r["outcome"], r["evidence"]) for r in rec["results"]} == {
        "alpha": ("reproduced", {"by": "alpha", "helper": "shared-v1"}),
        "beta": ("reproduced", {"by": "beta", "helper": "shared-v1"})}
