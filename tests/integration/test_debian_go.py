"""The debian source of the go axis for real: bookworm's Go 1.19.8 and trixie's 1.24.4, downloaded
with apt from the mirror of the host's apt sources (by the fixture, when missing), assembled into a
GOROOT, made into their own toolchain images and copied into pidfd-leak's build on bookworm. Only
trixie's Go holds a pidfd per os.FindProcess (since Go 1.23), as the reproducer sees in its own
/proc/self/fd; each result names the source, the release and the version the toolchain reported."""

import pytest

from integration.conftest import lab
from reprolab.common import labels
from reprolab.results import record
from reprolab.versions import debian

pytestmark = pytest.mark.docker

RELEASES = ("1.19.8", "1.24.4")


@pytest.fixture(scope="session")
def packages():
    """The two releases' packages in the lab's cache (downloaded when missing; hashes checked on reuse)."""
    have = debian.listing()
    assert not have.error, have.error
    return {r: debian.fetch(r) for r in RELEASES}


def test_debian_go_releases_build_and_give_both_sides_of_the_findprocess_boundary(client, packages, tmp_path):
    proc = lab("--results", str(tmp_path), "run", "pidfd-leak:findprocess-debian", "--go", "1.19.8", "--go", "1.24.4",
               timeout=3000)
    rec = record.load(record.find(tmp_path))
    by_release = {r["release"]["go"]: r for r in rec["results"]}
    assert proc.returncode == 0, "\n".join(f"{k}: {r['outcome']} {r['reason']}" for k, r in by_release.items()) \
        + proc.stderr[-3000:]
    assert sorted(by_release) == list(RELEASES)
    for release, outcome in (("1.19.8", "not-reproduced"), ("1.24.4", "reproduced")):
        r = by_release[release]
        assert (r["outcome"], r["expected"], r["match"]) == (outcome, outcome, "yes"), r["reason"]
        assert r["versions"]["go"] == f"go{release}"  # the toolchain inside the image said so itself
        assert r["toolchains"]["go"] == {"source": "debian", "version": f"go{release}",
                                         "sha256": packages[release].sha256}
        assert r["image"].endswith(f"-go{release}-debian")
        toolchain = client.images.get(f"reprolab/toolchain-go:{release}-debian")
        assert toolchain.labels[labels.TOOLCHAIN_SHA256] == packages[release].sha256
    assert by_release["1.24.4"]["evidence"]["pidfds_added"] == 100  # one per FindProcess call
    assert by_release["1.19.8"]["evidence"]["pidfds_added"] == 0
