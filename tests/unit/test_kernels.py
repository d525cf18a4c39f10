"""kernels: package names → versions, --kernel → a package, and the release inside a bzImage."""

import os
import struct

import pytest

from reprolab.common import cache
from reprolab.guests import kernels
from reprolab.common.errors import UserError

# What the suites' indexes hold (shapes as Debian names them), in debarchive.SUITES order.
DEFAULTS = {
    "bullseye": "linux-image-5.10.0-35-amd64",
    "bookworm": "linux-image-6.1.0-41-amd64",
    "trixie": "linux-image-6.12.48+deb13-amd64",
    "bookworm-backports": "linux-image-6.12.38+bpo-amd64",
    "sid": "linux-image-6.16.12-amd64",
}
PACKAGES = {
    "bullseye": ["linux-image-5.10.0-34-amd64", "linux-image-5.10.0-35-amd64", "linux-image-5.10.0-35-cloud-amd64",
                 "linux-image-5.10.0-35-rt-amd64", "linux-image-5.10.0-35-amd64-unsigned",
                 "linux-image-5.10.0-35-amd64-dbg", "linux-image-amd64", "linux-image-cloud-amd64"],
    "bookworm": ["linux-image-6.1.0-40-amd64", "linux-image-6.1.0-41-amd64", "linux-image-6.1.0-41-cloud-amd64",
                 "linux-image-6.1.0-41-amd64-unsigned", "linux-image-amd64", "linux-image-amd64-signed-template"],
    "trixie": ["linux-image-6.12.48+deb13-amd64", "linux-image-6.12.48+deb13-cloud-amd64",
               "linux-image-6.12.48+deb13-amd64-dbg", "linux-image-amd64"],
    "bookworm-backports": ["linux-image-6.12.38+bpo-amd64", "linux-image-6.10.11+bpo-amd64", "linux-image-amd64"],
    "sid": ["linux-image-6.16.12-amd64", "linux-image-6.10.9-amd64", "linux-image-6.10.12-cloud-amd64",
            "linux-image-6.16.12-rt-amd64", "linux-image-amd64"],
}


@pytest.mark.parametrize("package, version", [
    ("linux-image-6.1.0-41-amd64", "6.1.0-41"),
    ("linux-image-5.10.0-35-amd64", "5.10.0-35"),
    ("linux-image-6.12.48+deb13-amd64", "6.12.48+deb13"),
    ("linux-image-6.12.38+bpo-amd64", "6.12.38+bpo"),
    ("linux-image-6.16.12-amd64", "6.16.12"),
    ("linux-image-amd64", ""),
    ("linux-image-cloud-amd64", ""),
    ("linux-image-6.1.0-41-cloud-amd64", ""),
    ("linux-image-6.1.0-41-rt-amd64", ""),
    ("linux-image-6.1.0-41-amd64-unsigned", ""),
    ("linux-image-6.1.0-41-amd64-dbg", ""),
    ("linux-image-6.1.0-41-arm64", ""),
    ("linux-image-amd64-signed-template", ""),
    ("linux-headers-6.1.0-41-amd64", ""),
])
def test_upstream(package, version):
    assert kernels.upstream(package) == version


@pytest.mark.parametrize("prefix, version, expected", [
    ("6.1", "6.1.0-41", True),
    ("6.1", "6.1.158", True),
    ("6.1", "6.1", True),
    ("6.1", "6.12.48+deb13", False),
    ("6.1", "6.10.9", False),
    ("6.12", "6.12.48+deb13", True),
    ("6.12", "6.1.0-41", False),
    ("5.10", "5.10.0-35", True),
    ("5.1", "5.10.0-35", False),
    ("6.12.48", "6.12.48+deb13", True),
    ("6.1.0-41", "6.1.0-41", True),
    ("6.1.0-4", "6.1.0-41", False),
    ("6", "6.1.0-41", True),
])
def test_matches(prefix, version, expected):
    assert kernels.matches(prefix, version) is expected


@pytest.mark.parametrize("suite", list(DEFAULTS))
def test_a_suite_picks_its_default_kernel(suite):
    assert kernels.pick(suite, DEFAULTS, PACKAGES) == kernels.Choice(suite, suite=suite, package=DEFAULTS[suite])


@pytest.mark.parametrize("spec, suite, package", [
    ("5.10", "bullseye", "linux-image-5.10.0-35-amd64"),  # the default, not the older -34 beside it
    ("6.1", "bookworm", "linux-image-6.1.0-41-amd64"),
    ("6.12", "trixie", "linux-image-6.12.48+deb13-amd64"),  # trixie's own, not the backport
    ("6.16", "sid", "linux-image-6.16.12-amd64"),
])
def test_a_series_picks_the_suite_that_ships_it_as_its_own(spec, suite, package):
    assert kernels.pick(spec, DEFAULTS, PACKAGES) == kernels.Choice(spec, suite=suite, package=package)


def test_6_1_never_picks_a_6_12_kernel_whatever_the_suite_order():
    defaults = {"trixie": DEFAULTS["trixie"], "bookworm-backports": DEFAULTS["bookworm-backports"],
                "bookworm": DEFAULTS["bookworm"]}
    assert kernels.pick("6.1", defaults, PACKAGES).package == "linux-image-6.1.0-41-amd64"
    del defaults["bookworm"]
    packages = {s: PACKAGES[s] for s in defaults}
    with pytest.raises(UserError):
        kernels.pick("6.1", defaults, packages)


def test_a_series_found_only_among_packages_picks_the_newest_by_natural_order():
    # 6.10 is no suite's own kernel: sid has 6.10.9 (and a cloud 6.10.12, not a candidate),
    # backports has 6.10.11; 6.10.11 is newer than 6.10.9 although '9' > '1' as text
    assert kernels.pick("6.10", DEFAULTS, PACKAGES) == kernels.Choice(
        "6.10", suite="bookworm-backports", package="linux-image-6.10.11+bpo-amd64")
    assert kernels.pick("5.10.0-34", DEFAULTS, PACKAGES) == kernels.Choice(
        "5.10.0-34", suite="bullseye", package="linux-image-5.10.0-34-amd64")


def test_natural_order():
    assert sorted(["6.10.9", "6.10.11", "6.9.2", "6.1.0-41", "6.1.0-9"], key=kernels.natural) == [
        "6.1.0-9", "6.1.0-41", "6.9.2", "6.10.9", "6.10.11"]


AVAILABLE = "bullseye, bookworm, trixie, bookworm-backports, sid, 5.10, 6.1, 6.10, 6.12, 6.16"


@pytest.mark.parametrize("spec", ["4.19", "jessie", "6.99", "latest", "6.1x", "6"])
def test_an_unknown_kernel_lists_the_available_ones(spec):
    with pytest.raises(UserError) as exc:
        kernels.pick(spec, DEFAULTS, PACKAGES)
    assert str(exc.value) == (f"--kernel {spec}: unknown kernel; available: {AVAILABLE}, host, "
                              f"or the path of a kernel image")


def test_available():
    assert ", ".join(kernels.available(DEFAULTS, PACKAGES)) == AVAILABLE
    assert kernels.available({}, {}) == []


def test_a_suite_without_a_default_kernel():
    defaults = dict(DEFAULTS, sid="")
    with pytest.raises(UserError) as exc:
        kernels.pick("sid", defaults, PACKAGES)
    assert str(exc.value) == "--kernel sid: that suite lists no linux-image-amd64 on this mirror"
    assert "sid" not in kernels.available(defaults, PACKAGES)
    # its packages still count for a series, and a series another suite ships is unaffected
    assert kernels.pick("6.16", defaults, PACKAGES) == kernels.Choice("6.16", suite="sid",
                                                                      package="linux-image-6.16.12-amd64")
    assert kernels.pick("6.1", defaults, PACKAGES).suite == "bookworm"


def fake_bzimage(path, version=b"6.6.0-test (user@host) #1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 1970",
                 at=0x3C0, size=0x2000):
    """A file with an x86 boot header: 'HdrS' at 0x202, and at 0x20E the version string's offset - 0x200."""
    data = bytearray(size)
    data[0x1FE:0x202] = b"\x55\xaa\xeb\x66"  # boot flag, then the setup code's jump
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x20E, at - 0x200)
    if version is not None and at < size:
        data[at:at + len(version) + 1] = version + b"\0"
    path.write_bytes(bytes(data))
    return path


def test_bzimage_release(tmp_path):
    assert kernels.bzimage_release(fake_bzimage(tmp_path / "bzImage")) == "6.6.0-test"
    assert kernels.bzimage_release(str(fake_bzimage(tmp_path / "vmlinuz", b"5.10.0-35-amd64 (debian-kernel@x)",
                                                    at=0x3000, size=0x5000))) == "5.10.0-35-amd64"


def test_a_file_that_is_no_kernel_image(tmp_path):
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\necho hello\n" * 100)
    short = tmp_path / "short"
    short.write_bytes(b"\0" * 0x202 + b"HdrS")
    for path in (script, short):
        with pytest.raises(UserError) as exc:
            kernels.bzimage_release(path)
        assert str(exc.value) == (f"{path}: not a kernel image (no x86 boot header 'HdrS'); give a bzImage "
                                  f"(arch/x86/boot/bzImage or /boot/vmlinuz-*)")


def test_a_kernel_image_without_a_version_string(tmp_path):
    for name, at, version in (("zero-offset", 0x200, None), ("past-the-end", 0xF000, b"6.6.0"),
                              ("empty", 0x400, b"")):
        path = fake_bzimage(tmp_path / name, version, at=at, size=0x1000)
        with pytest.raises(UserError) as exc:
            kernels.bzimage_release(path)
        assert str(exc.value) == f"{path}: kernel image without a version string"


def test_a_missing_kernel_image(tmp_path):
    path = tmp_path / "nope" / "bzImage"
    with pytest.raises(UserError) as exc:
        kernels.bzimage_release(path)
    assert str(exc.value) == f"{path}: cannot read kernel image (No such file or directory)"


def test_choose_checks_a_path_before_anything_else(tmp_path):
    image = fake_bzimage(tmp_path / "bzImage")
    assert kernels.choose(str(image)) == kernels.Choice(str(image), path=str(image.resolve()))
    with pytest.raises(UserError) as exc:
        kernels.choose(str(tmp_path / "missing"))
    assert str(exc.value) == f"--kernel {tmp_path / 'missing'}: no such file"
    with pytest.raises(UserError) as exc:
        kernels.choose(str(tmp_path))
    assert "no such file" in str(exc.value)
    with pytest.raises(UserError) as exc:
        kernels.choose("bookworm", modules=str(tmp_path))
    assert str(exc.value) == "--kernel-modules only goes with a kernel image path"


def test_fetch_of_a_file_kernel_checks_its_modules(tmp_path):
    image = fake_bzimage(tmp_path / "bzImage")
    k = kernels.fetch(kernels.Choice(str(image), path=str(image)))
    assert (k.release, k.image, k.origin) == ("6.6.0-test", image, f"file {image}")
    mods = tmp_path / "install"
    (mods / "lib" / "modules" / "6.6.0-other").mkdir(parents=True)
    with pytest.raises(UserError) as exc:
        kernels.fetch(kernels.Choice(str(image), path=str(image), modules=str(mods)))
    assert str(exc.value) == (f"--kernel-modules {mods}: no lib/modules/6.6.0-test inside "
                              f"(give the INSTALL_MOD_PATH of 'make modules_install')")
    (mods / "lib" / "modules" / "6.6.0-test").mkdir()
    k = kernels.fetch(kernels.Choice(str(image), path=str(image), modules=str(mods)))
    assert k.modules == mods


class Downloading(Exception):
    pass


class FakeArchive:
    downloads = []

    def __init__(self, suite):
        self.suite = suite

    def show(self, package):
        return {"Version": "6.1.158-1", "Size": str(70 << 20)} if package == "linux-image-6.1.0-41-amd64" else {}

    def download(self, package, dest):
        FakeArchive.downloads.append(package)
        raise Downloading(package)


def test_fetch_reuses_a_cached_kernel_that_passes_its_check(tmp_path, monkeypatch):
    import json
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kernels.debarchive, "Archive", FakeArchive)
    monkeypatch.setattr(FakeArchive, "downloads", [])
    dest = tmp_path / "cache" / "kernels" / "linux-image-6.1.0-41-amd64_6.1.158-1"
    (dest / "root" / "lib" / "modules" / "6.1.0-41-amd64").mkdir(parents=True)
    image = dest / "vmlinuz-6.1.0-41-amd64"
    image.write_bytes(b"kernel bytes")
    origin = "debian bookworm linux-image-6.1.0-41-amd64 6.1.158-1"
    (dest / "kernel.json").write_text(json.dumps({
        "release": "6.1.0-41-amd64", "image": image.name, "image_sha256": cache.sha256_of(image), "origin": origin}))
    choice = kernels.Choice("6.1", suite="bookworm", package="linux-image-6.1.0-41-amd64")
    assert kernels.fetch(choice) == kernels.Kernel("6.1", "6.1.0-41-amd64", image, dest / "root", origin)
    assert FakeArchive.downloads == []
    image.write_bytes(b"kernel bytes, damaged")
    lines = []
    with pytest.raises(Downloading):
        kernels.fetch(choice, lines.append)
    assert FakeArchive.downloads == ["linux-image-6.1.0-41-amd64"]
    assert not dest.exists()  # the damaged copy is gone, not reused
    assert lines[0] == "kernel linux-image-6.1.0-41-amd64: cached copy fails its check; fetching again"
    gone = kernels.Choice("6.1", suite="bookworm", package="linux-image-6.1.0-40-amd64")
    from reprolab.common.errors import EngineError
    with pytest.raises(EngineError) as exc:
        kernels.fetch(gone)
    assert str(exc.value) == ("linux-image-6.1.0-40-amd64: not in the bookworm indexes any more; "
                              "retry to refresh them")


def test_a_suites_kernels_are_remembered_until_its_indexes_change(tmp_path):
    class Arch:
        dir, calls = tmp_path, 0

        def show(self, package):
            Arch.calls += 1
            return {"Depends": "linux-image-6.1.0-56-amd64 (= 6.1.192-2)"}

        def names(self, prefix):
            Arch.calls += 1
            return ["linux-image-6.1.0-56-amd64", "linux-image-amd64"]

    (tmp_path / "updated").touch()
    first = kernels._suite_kernels(Arch())
    assert first == ("linux-image-6.1.0-56-amd64", ["linux-image-6.1.0-56-amd64", "linux-image-amd64"])
    assert kernels._suite_kernels(Arch()) == first and Arch.calls == 2
    os.utime(tmp_path / "updated", (1, 1))  # the indexes were updated since
    assert kernels._suite_kernels(Arch()) == first and Arch.calls == 4
