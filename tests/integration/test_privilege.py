"""The privilege probe leaves no container behind, whatever the engine answers."""

import secrets

import pytest

from reprolab.common import labels
from reprolab.engines import privilege

pytestmark = pytest.mark.docker


def test_probe_leaves_no_container(client):
    mark = f"probe-test-{secrets.token_hex(4)}"
    ok, reason = privilege.probe(client, "debian:bookworm", labels={labels.RUN: mark})
    left = client.containers.list(all=True, filters={"label": f"{labels.RUN}={mark}"})
    assert left == [], f"probe left {[c.short_id for c in left]} ({'granted' if ok else reason})"
    assert ok or reason  # a refusal always says why


def test_probe_with_missing_image_leaves_nothing_and_says_why(client):
    mark = f"probe-test-{secrets.token_hex(4)}"
    ok, reason = privilege.probe(client, "reprolab-test/not-on-any-engine:1", labels={labels.RUN: mark})
    assert not ok and "not-on-any-engine" in reason
    assert client.containers.list(all=True, filters={"label": f"{labels.RUN}={mark}"}) == []
