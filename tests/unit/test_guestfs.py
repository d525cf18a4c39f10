"""guestfs.configure: the file edits that make a debootstrapped tree a guest whose engine the lab reaches."""

import os

from reprolab.guests import guestfs

ARCHIVE = "http://mirror.invalid/debian"
SECURITY = "http://mirror.invalid/debian-security"


def tree(tmp_path):
    t = tmp_path / "tree"
    for d in ("etc/apt", "var/cache/apt/archives", "lib/systemd/system"):
        (t / d).mkdir(parents=True)
    (t / "var/cache/apt/archives/docker.io_20.10.24_amd64.deb").write_bytes(b"deb")
    return t


def test_configure(tmp_path):
    t = tree(tmp_path)
    guestfs.configure(t, ARCHIVE, SECURITY)
    etc = t / "etc"
    assert (etc / "hostname").read_text() == "reprolab-guest\n"
    assert (etc / "apt" / "sources.list").read_text() == (
        f"deb {ARCHIVE} bookworm main\ndeb {ARCHIVE} bookworm-updates main\ndeb {SECURITY} bookworm-security main\n")
    dropin = (etc / "systemd/system/docker.service.d/reprolab.conf").read_text()
    # ExecStart= first clears the packaged command; the engine listens on the port qemu forwards
    assert dropin.splitlines()[1:3] == ["ExecStart=", "ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375 "
                                        "--containerd=/run/containerd/containerd.sock"]
    assert f":{guestfs.ENGINE_PORT}" in dropin
    net = (etc / "systemd/network/10-qemu.network").read_text()
    assert "Address=10.0.2.15/24" in net and "Gateway=10.0.2.2" in net  # qemu user-net's fixed addresses
    wants = etc / "systemd/system/multi-user.target.wants/systemd-networkd.service"
    assert os.readlink(wants) == "/lib/systemd/system/systemd-networkd.service"
    for unit in guestfs.MASKED:
        assert os.readlink(etc / "systemd/system" / unit) == "/dev/null", unit
    assert (t / "lib/modules").is_dir()  # the mount point of the modules disk
    assert list((t / "var/cache/apt/archives").iterdir()) == [t / "var/cache/apt/archives/partial"]


def test_configure_twice(tmp_path):
    t = tree(tmp_path)
    system = t / "etc/systemd/system"
    guestfs.configure(t, ARCHIVE, "")
    guestfs.configure(t, ARCHIVE, "")
    assert os.readlink(system / "apt-daily.timer") == "/dev/null"
    assert "security" not in (t / "etc/apt/sources.list").read_text()
