import pytest

from integration.conftest import lab
from reprolab import labels, render

pytestmark = pytest.mark.docker


def test_clean_removes_lab_strays_and_nothing_else(client):
    stray = client.containers.create("debian:bookworm", ["sleep", "60"],
                                     labels={f"{render.LABEL_PREFIX}.run": "crashed-run"})
    other = client.containers.create("debian:bookworm", ["sleep", "60"], labels={"someone.else": "1"})
    try:
        proc = lab("clean")
        assert proc.returncode == 0 and proc.stdout.startswith("removed ")
        ids = {c.id for c in client.containers.list(all=True)}
        assert stray.id not in ids and other.id in ids
    finally:
        other.remove(force=True)
        try:
            stray.remove(force=True)
        except Exception:
            pass


def test_bases_exist_and_say_how_they_were_made(client):
    proc = lab("base", "bookworm")
    assert proc.returncode == 0 and proc.stdout.startswith("debian:bookworm: ready")
    labels = client.images.get("debian:bookworm").labels or {}
    assert labels.get(labels.BASE_ORIGIN) in ("debootstrap", None)  # None: pulled from a registry
