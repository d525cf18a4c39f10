"""Every scenario of scenarios/ runs for real, and each variant's outcome matches its expectation.

Skips are accepted only where the variant's base is a registry-only image (offline here) or the host
lacks a declared prerequisite; the reason must say so.
"""

import pytest

from conftest import ROOT
from integration.conftest import lab, lab_containers
from reprolab.results import record
from reprolab.scenarios import catalog

pytestmark = pytest.mark.docker

SCENARIOS = [s.name for s in catalog.load_all(ROOT / "scenarios")]


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_outcomes_match_expectations(client, tmp_path, name):
    proc = lab("--results", str(tmp_path), "run", name, timeout=3000)
    rec = record.load(record.find(tmp_path))
    table = "\n".join(f"{r['variant']}@{r['suite']}: {r['outcome']} (expected {r['expected']}) {r['reason']}"
                      for r in rec["results"])
    assert proc.returncode == 0, table + "\n" + proc.stderr[-3000:]
    for r in rec["results"]:
        assert r["match"] in ("yes", "skip"), table
        if r["match"] == "skip":
            assert "cannot be pulled" in r["reason"] or "needs" in r["reason"], table
        if r["outcome"] in ("reproduced", "not-reproduced"):
            assert r["attempts"] >= 1 and r["evidence"], f"{r['variant']}: a verdict without evidence"
    assert lab_containers(client, rec["run_id"]) == []
