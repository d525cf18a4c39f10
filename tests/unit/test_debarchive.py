"""debarchive: the private sources.list of each suite the lab takes packages from."""

import pytest

from reprolab.common import debarchive
from reprolab.common.errors import UserError

ARCHIVE = "http://mirror.invalid/debian"
SECURITY = "http://mirror.invalid/debian-security"
KEY = "/usr/share/keyrings/debian-archive-keyring.gpg"
OPT = f"[arch=amd64 signed-by={KEY}]"


@pytest.mark.parametrize("suite", ["bullseye", "bookworm", "trixie"])
def test_stable_suites_add_updates_and_security(suite):
    assert debarchive.sources(suite, ARCHIVE, SECURITY) == (
        f"deb {OPT} {ARCHIVE} {suite} main\n"
        f"deb {OPT} {ARCHIVE} {suite}-updates main\n"
        f"deb {OPT} {SECURITY} {suite}-security main\n")


@pytest.mark.parametrize("suite", ["bookworm-backports", "sid"])
def test_backports_and_sid_are_one_line(suite):
    assert debarchive.sources(suite, ARCHIVE, SECURITY) == f"deb {OPT} {ARCHIVE} {suite} main\n"


def test_without_a_security_mirror():
    assert debarchive.sources("bookworm", ARCHIVE, "") == (
        f"deb {OPT} {ARCHIVE} bookworm main\n"
        f"deb {OPT} {ARCHIVE} bookworm-updates main\n")


def test_without_a_keyring():
    assert debarchive.sources("sid", ARCHIVE, SECURITY, keyring="") == f"deb [arch=amd64] {ARCHIVE} sid main\n"


def test_every_suite_has_sources():
    for suite in debarchive.SUITES:
        lines = debarchive.sources(suite, ARCHIVE, SECURITY).splitlines()
        assert lines[0].endswith(f" {suite} main")
        assert all(line.startswith("deb [arch=amd64 ") for line in lines)


def test_an_unknown_suite(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path))
    with pytest.raises(UserError) as exc:
        debarchive.Archive("buster")
    assert str(exc.value) == ("buster: not a suite the lab takes packages from; choose from "
                              "bullseye, bookworm, trixie, bookworm-backports, sid")
    assert not (tmp_path / "apt").exists()


def test_apt_options_keep_to_the_private_state(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path))
    arch = debarchive.Archive("trixie")
    assert arch.dir == tmp_path / "apt" / "trixie" and arch.dir.is_dir()
    opts = arch.options()
    values = dict(opts[i + 1].split("=", 1) for i, o in enumerate(opts) if o == "-o")
    for key in ("Dir::Etc::SourceList", "Dir::State::Lists", "Dir::State::status", "Dir::Cache::archives"):
        assert values[key].startswith(str(arch.dir) + "/"), key
    assert values["Dir::Etc::SourceParts"] == "/nonexistent"  # the host's sources.list.d stays out
