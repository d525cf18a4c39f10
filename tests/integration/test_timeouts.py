"""A build that outlives its time limit is stopped, cleaned up, and the step that stalled is named."""

import re
import uuid

import pytest

from integration.conftest import lab
from reprolab.results import record

pytestmark = pytest.mark.docker


def test_a_stalled_build_step_is_an_error_naming_the_step(client, outcome_images, tmp_path, fixture_scenarios):
    # outcome_images: the steps before the stalled one come from the layer cache, so the 4 s are
    # spent in the stalled step, not in building the others on a cold engine
    text = (fixture_scenarios / "outcomes.yaml").read_text()
    # a unique argument keeps the layer cache from knowing this step from another run's
    stalled = f"[sh, -c, 'sleep 600 # {uuid.uuid4().hex}']"
    (fixture_scenarios / "outcomes.yaml").write_text(text.replace(
        "    - [cp, fixture.sh, /out/bin/fixture]", f"    - [cp, fixture.sh, /out/bin/fixture]\n    - {stalled}"))
    proc = lab("--scenarios", str(fixture_scenarios), "--results", str(tmp_path), "run", "outcomes:present",
               "--build-timeout", "4")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    entry = record.load(record.find(tmp_path))["results"][0]
    assert entry["outcome"] == "error"
    assert re.match(r"image build failed: build timed out after 4 s in Step \d+/\d+ : RUN .*sleep", entry["reason"]), entry
    step_container = re.findall(r"Running in (\w+)", entry["build_log_tail"])[-1]
    assert not client.containers.list(all=True, filters={"id": step_container})
