"""rootstep's pure parts: the host-tools image, the privileged settings, which engines may do it."""

import io
import os
import tarfile

import pytest

from reprolab.common.errors import UserError
from reprolab.engines import rootstep


def test_a_merged_usr_host_gives_symlinks_and_binds_only_usr_and_etc(tmp_path):
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    os.symlink("usr/bin", tmp_path / "bin")
    os.symlink("usr/sbin", tmp_path / "sbin")
    os.symlink("usr/lib", tmp_path / "lib")
    (tmp_path / "lib64").mkdir()  # a real folder is bound like /usr
    links, binds = rootstep.tools_spec(tmp_path)
    assert links == [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib")]
    assert binds == ["/usr", "/etc", "/lib64"]


def test_the_tools_image_holds_only_folders_and_the_program_links():
    data = rootstep.tools_tar([("bin", "usr/bin"), ("lib", "usr/lib")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    assert all(m.isdir() or m.issym() for m in members.values())
    assert {"usr", "etc", "proc", "sys", "dev", "tmp", "out", "in", "data"} <= set(members)
    assert members["tmp"].mode == 0o1777
    assert rootstep.tools_tar([("bin", "usr/bin")]) == rootstep.tools_tar([("bin", "usr/bin")])  # a stable tag


def test_privileged_settings_drop_what_the_bounding_set_lacks():
    # CapBnd without CAP_SYS_RESOURCE (24), as on the lab's build machine
    status = "Name:\tpython\nCapBnd:\t000001fffeffffff\n"
    opts = rootstep.privileged_options(status)
    assert opts["cap_add"] == ["ALL"] and opts["cap_drop"] == ["SYS_RESOURCE"]
    assert opts["security_opt"] == ["seccomp=unconfined", "apparmor=unconfined"]
    assert "cap_drop" not in rootstep.privileged_options("CapBnd:\t000001ffffffffff\n")


class FakeClient:
    def __init__(self, url, security=()):
        self.reprolab_url = url
        self.security = list(security)

    def info(self):
        return {"SecurityOptions": self.security}


def test_a_remote_engine_cannot_do_a_root_step():
    with pytest.raises(UserError) as err:
        rootstep.check_engine(FakeClient("tcp://127.0.0.1:2375"), "the guest root filesystem")
    assert str(err.value) == ("the guest root filesystem needs root; the lab runs as a user, so it does it in a "
                              "container, which needs this machine's engine (a unix socket), not "
                              "tcp://127.0.0.1:2375: unset DOCKER_HOST, or run the lab as root")


def test_an_engine_that_remaps_root_cannot_do_a_root_step():
    client = FakeClient("unix:///var/run/docker.sock", ["name=seccomp,profile=default", "name=userns"])
    with pytest.raises(UserError) as err:
        rootstep.check_engine(client, "the image disk")
    assert str(err.value) == ("the image disk needs root; this engine remaps root (userns-remap), so its "
                              "containers cannot make root-owned files: run the lab as root once for it")
    rootstep.check_engine(FakeClient("unix:///var/run/docker.sock", ["name=seccomp,profile=default"]), "x")
