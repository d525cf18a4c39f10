"""qemu.argv and qemu.kernel_cmdline (golden), GuestConfig validation, and the isolation invariants."""

import pytest

from reprolab.guests import qemu
from reprolab.common.errors import UserError
from unit import golden


def config(**over):
    base = dict(name="6.1.0-41-amd64-v2", kernel_image="/cache/kernels/k/vmlinuz-6.1.0-41-amd64",
                initramfs="/cache/kernels/k/initramfs.img", root_overlay="/cache/run/reprolab-guest-x/root.qcow2",
                modules_disk="/cache/kernels/k/modules.img", port=40123, console="/results/logs/guests/c.log")
    base.update(over)
    return qemu.GuestConfig(**base)


@pytest.mark.parametrize("cgroup", ["v1", "v2"])
def test_kernel_cmdline_golden(cgroup):
    golden.check(f"qemu-cmdline-{cgroup}.txt", qemu.kernel_cmdline(config(cgroup=cgroup)) + "\n")


@pytest.mark.parametrize("cgroup", ["v1", "v2"])
@pytest.mark.parametrize("accel", ["kvm", "tcg"])
def test_argv_golden(cgroup, accel):
    cfg = config(cgroup=cgroup, accel=accel, memory_mb=3072, cpus=1)
    golden.check(f"qemu-argv-{cgroup}-{accel}.txt", "\n".join(qemu.argv(cfg)) + "\n")


def test_cgroup_layout_is_chosen_on_the_kernel_command_line():
    v1, v2 = (qemu.kernel_cmdline(config(cgroup=c)).split() for c in ("v1", "v2"))
    assert "systemd.unified_cgroup_hierarchy=0" in v1 and "systemd.unified_cgroup_hierarchy=1" not in v1
    assert "systemd.unified_cgroup_hierarchy=1" in v2 and "systemd.unified_cgroup_hierarchy=0" not in v2
    assert "console=ttyS0,115200" in v1 and "console=ttyS0,115200" in v2


def _options(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


@pytest.mark.parametrize("accel", ["kvm", "tcg"])
def test_the_only_network_is_one_restricted_port_forward_on_loopback(accel):
    argv = qemu.argv(config(accel=accel))
    assert "-nodefaults" in argv  # no default NIC, no default devices
    for flag in ("-net", "-netdev"):
        assert flag not in argv
    assert not [d for d in _options(argv, "-device") if "net" in d]
    (nic,) = _options(argv, "-nic")
    kind, *opts = nic.split(",")
    assert kind == "user"
    assert "restrict=on" in opts
    assert [o for o in opts if o.startswith("hostfwd=")] == ["hostfwd=tcp:127.0.0.1:40123-:2375"]
    assert not [o for o in opts if o.startswith(("guestfwd=", "smb=", "tftp=", "bootfile="))]


def test_accelerator_flags():
    assert qemu.argv(config(accel="kvm"))[qemu.argv(config(accel="kvm")).index("-accel") + 1] == "kvm"
    tcg = qemu.argv(config(accel="tcg"))
    assert tcg[tcg.index("-accel") + 1].split(",")[0] == "tcg"
    assert "kvm" not in " ".join(tcg)


def test_modules_disk_is_read_only_and_the_root_overlay_is_not():
    cfg = config()
    drives = _options(qemu.argv(cfg), "-drive")
    assert len(drives) == 2
    by_file = {dict(o.split("=", 1) for o in d.split(","))["file"]: d.split(",") for d in drives}
    assert "readonly=on" in by_file[cfg.modules_disk]
    assert "format=raw" in by_file[cfg.modules_disk]
    assert "readonly=on" not in by_file[cfg.root_overlay]
    assert "format=qcow2" in by_file[cfg.root_overlay]


def test_console_goes_to_the_file_and_nothing_is_displayed():
    argv = qemu.argv(config())
    assert _options(argv, "-chardev") == ["file,id=console,path=/results/logs/guests/c.log"]
    assert _options(argv, "-serial") == ["chardev:console"]
    assert _options(argv, "-display") == ["none"] and _options(argv, "-monitor") == ["none"]
    assert _options(argv, "-name") == ["reprolab-6.1.0-41-amd64-v2"]


def test_binary_is_the_first_word():
    assert qemu.argv(config(), "/opt/qemu/bin/qemu-system-x86_64")[0] == "/opt/qemu/bin/qemu-system-x86_64"


@pytest.mark.parametrize("over, message", [
    ({"cgroup": "v3"}, "--cgroup v3: choose v1 or v2"),
    ({"cgroup": "2"}, "--cgroup 2: choose v1 or v2"),
    ({"accel": "hvf"}, "accelerator hvf: choose kvm or tcg"),
    ({"memory_mb": 512}, "--guest-memory 512: a guest needs at least 1024 MiB"),
    ({"memory_mb": 1023}, "--guest-memory 1023: a guest needs at least 1024 MiB"),
    ({"port": 0}, "guest port 0 is not a TCP port"),
    ({"port": -1}, "guest port -1 is not a TCP port"),
    ({"port": 65536}, "guest port 65536 is not a TCP port"),
])
def test_guest_config_rejects_bad_values(over, message):
    with pytest.raises(UserError) as exc:
        config(**over)
    assert str(exc.value) == message


def test_guest_config_accepts_the_limits():
    assert config(memory_mb=1024, port=1).memory_mb == 1024
    assert config(port=65535).port == 65535


def test_commas_in_paths_are_escaped_in_option_lists():
    """qemu splits -drive and -chardev values on ','; a comma in a path is written ',,'."""
    cfg = config(root_overlay="/home/a,b/run/root.qcow2", modules_disk="/home/a,b/modules.img",
                 console="/work/x,readonly=off/c.log")
    argv = qemu.argv(cfg)
    assert _options(argv, "-chardev") == ["file,id=console,path=/work/x,,readonly=off/c.log"]
    assert _options(argv, "-drive") == [
        "file=/home/a,,b/run/root.qcow2,if=virtio,format=qcow2,cache=unsafe",
        "file=/home/a,,b/modules.img,if=virtio,format=raw,readonly=on"]
    # -kernel and -initrd take a plain file name: no escaping there
    assert _options(argv, "-kernel") == [cfg.kernel_image]
