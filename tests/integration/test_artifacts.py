"""The declared artifacts folder is copied out before the container is removed, after a hang too."""

import pytest

from conftest import FIXTURES
from integration.conftest import lab, lab_containers
from reprolab.results import record

pytestmark = pytest.mark.docker


def test_artifacts_are_kept_in_the_runs_logs(client, tmp_path):
    proc = lab("--scenarios", str(FIXTURES / "artifacts"), "--results", str(tmp_path), "run", "keeps")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(tmp_path))
    by = {r["variant"]: r for r in rec["results"]}
    assert by["ends"]["outcome"] == "reproduced" and by["hangs"]["outcome"] == "hang"
    for name, r in by.items():
        art = r["artifacts"]
        assert art["from"] == "/var/tmp/found"
        assert art["path"] == f"logs/{rec['run_id']}/keeps.{name}.bookworm.artifacts"
        assert art["files"] == ["deep/er/listing.txt", "probe.log"]
        assert art["skipped"] == ["shadow-link: not a regular file"]
        folder = tmp_path / art["path"]
        assert (folder / "probe.log").read_text() == "probe run by uid 65534\n"
        assert (folder / "deep" / "er" / "listing.txt").read_text() == "/etc/debian_version\n"
        assert not (folder / "shadow-link").exists()
    assert lab_containers(client, rec["run_id"]) == []
