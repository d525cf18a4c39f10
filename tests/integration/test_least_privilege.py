"""A scenario asking for least privilege gets exactly that from the engine, and the record shows it."""

import re

import pytest

from conftest import FIXTURES
from integration.conftest import lab, lab_containers
from reprolab.results import record

pytestmark = pytest.mark.docker


def test_no_capability_no_new_privileges_non_root(client, tmp_path):
    proc = lab("--scenarios", str(FIXTURES / "privilege"), "--results", str(tmp_path), "run", "least")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(tmp_path))
    (entry,) = rec["results"]
    assert entry["outcome"] == "reproduced" and entry["verdict_rule"] == "read.reproduced.stdout"
    assert " --cap-drop ALL --security-opt no-new-privileges --user 65534:65534 " in entry["docker_command"]
    status = dict(re.findall(r"^(\w+):\s+(.*)$", (tmp_path / entry["log"]).read_text(), re.M))
    assert status["Uid"].split() == ["65534"] * 4 and status["Gid"].split() == ["65534"] * 4
    assert int(status["CapPrm"], 16) == int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"] == "1"
    assert lab_containers(client, rec["run_id"]) == []
