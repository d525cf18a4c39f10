"""Extracting an artifacts archive from an untrusted container: files and folders only, inside."""

import io
import tarfile

from reprolab.runs import artifacts


def archive(*members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = data
                tar.addfile(info)
            elif kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    buf.seek(0)
    return buf


def test_files_and_folders_under_the_destination(tmp_path):
    got = artifacts.extract(archive(("found", tarfile.DIRTYPE, b""), ("found/a.log", tarfile.REGTYPE, b"hello"),
                                    ("found/sub", tarfile.DIRTYPE, b""), ("found/sub/b", tarfile.REGTYPE, b"x")),
                            tmp_path / "out")
    assert got == {"files": ["a.log", "sub/b"], "bytes": 6}
    assert (tmp_path / "out" / "a.log").read_bytes() == b"hello"


def test_links_devices_and_escapes_are_left_out(tmp_path):
    got = artifacts.extract(archive(("found/link", tarfile.SYMTYPE, "/etc/shadow"),
                                    ("found/../../evil", tarfile.REGTYPE, b"x"),
                                    ("found/fifo", tarfile.FIFOTYPE, b"")), tmp_path / "out")
    assert got == {"files": [], "bytes": 0, "skipped": ["link: not a regular file", "found/../../evil: a path leaving the folder",
                                                       "fifo: not a regular file"]}
    assert not (tmp_path / "evil").exists() and list((tmp_path / "out").iterdir()) == []


def test_the_size_limit_keeps_what_fits(tmp_path):
    got = artifacts.extract(archive(("found/a", tarfile.REGTYPE, b"1234"), ("found/b", tarfile.REGTYPE, b"12345678")),
                            tmp_path / "out", limit=10)
    assert got["files"] == ["a"] and got["skipped"] == ["b: over the limit of 10 bytes of artifacts"]
