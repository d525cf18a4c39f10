"""Hostile ENV values reach a real build byte for byte (Docker's quoting, not JSON's)."""

import pytest
import yaml

from integration.conftest import lab
from reprolab.scenarios import render
from unit.test_render import HOSTILE_ENV

pytestmark = pytest.mark.docker


def test_hostile_env_values_reach_the_build_byte_for_byte(client, tmp_path):
    scenarios = tmp_path / "scenarios"
    (scenarios / "hostile-env").mkdir(parents=True)
    (scenarios / "hostile-env" / "README").write_text("sources of the hostile-env test scenario\n")
    (scenarios / "hostile-env.yaml").write_text(yaml.safe_dump({
        "name": "hostile-env", "title": "ENV values Docker would expand or keep escaped",
        "summary": "Test scenario, not a bug.", "tags": ["fixture"], "requires": {"cgroup": "any"},
        "image": {"suites": ["bookworm"], "toolchain": False, "env": dict(HOSTILE_ENV),
                  # the build stage is where ENV applies; its environment is kept, NUL-separated
                  "build": [["sh", "-c", "env -0 > /out/env0"]]},
        "run": {"command": ["cat", "/opt/reprolab/env0"], "timeout": 30, "memory": "64m", "pids": 64},
        "variants": {"v": {"description": "prints the build's environment", "expect": "error"}},
        "default_variant": "v"}, allow_unicode=True))
    proc = lab("--scenarios", str(scenarios), "build", "hostile-env")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tag = "reprolab/hostile-env:v-bookworm"
    # run(remove=True) reads a following log stream after removing the container and may return
    # nothing for a container this quick: wait, read, then remove
    container = client.containers.run(tag, network_mode="none", detach=True,
                                      labels={f"{render.LABEL_PREFIX}.test": "hostile-env"})
    try:
        container.wait(timeout=60)
        out = container.logs(stdout=True, stderr=False)
    finally:
        container.remove(force=True)
        client.images.remove(tag, force=True)
    seen = dict(item.split(b"=", 1) for item in out.split(b"\0") if b"=" in item)
    assert seen, out[:500]
    assert {k: seen.get(k.encode()) for k, _ in HOSTILE_ENV} == {k: v.encode("utf-8") for k, v in HOSTILE_ENV}
