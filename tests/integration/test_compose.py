"""docker compose up <scenario> builds from a fresh clone and runs the default variant for real."""

import re
import subprocess

import pytest

from conftest import ROOT, in_ci
from reprolab.exports import compose
from reprolab.scenarios import catalog

pytestmark = pytest.mark.docker

SCENARIOS = [s.name for s in compose.composable(catalog.load_all(ROOT / "scenarios"))]


def compose_available():
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.parametrize("name", SCENARIOS)
def test_compose_up_runs_the_default_variant(client, name):
    if not compose_available():
        if in_ci():
            pytest.fail("CI=true and no 'docker compose' plugin (scripts/install-compose.sh installs it)")
        pytest.skip("no 'docker compose' plugin; run scripts/install-compose.sh")
    project = f"reprolab-test-{name}"
    cmd = ["docker", "compose", "-p", project, "-f", str(ROOT / "docker-compose.yml")]
    try:
        proc = subprocess.run(cmd + ["up", "--build", "--exit-code-from", name, name], capture_output=True,
                              text=True, timeout=1800, cwd=ROOT)
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", proc.stdout)  # compose's progress escapes
        lines = [ln for ln in text.splitlines() if ln.strip()]
        verdicts = [ln for ln in lines if "REPROLAB-RESULT {" in ln]
        assert verdicts, proc.stdout[-2000:] + proc.stderr[-2000:]
        # the service's output ends with the verdict line (compose prefixes "name-1  | ")
        service_lines = [ln for ln in lines if "|" in ln and ln.split("|", 1)[0].strip().startswith(name)]
        assert "REPROLAB-RESULT {" in service_lines[-1], "\n".join(service_lines[-5:])
        assert proc.returncode == 0, f"exit {proc.returncode}: outcome differs from the expectation\n{verdicts[-1]}"
    finally:
        subprocess.run(cmd + ["down", "--remove-orphans"], capture_output=True, timeout=120, cwd=ROOT)
