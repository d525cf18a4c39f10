"""guest: the memory check before anything boots, the forced accelerator, stray work folders."""


import pytest

from reprolab.guests import guest
from reprolab.common.errors import UserError

MEMINFO = """MemTotal:       24576000 kB
MemFree:         1000000 kB
MemAvailable:   {avail} kB
Buffers:          100000 kB
SwapTotal:             0 kB
"""


def meminfo(tmp_path, avail_kib):
    path = tmp_path / "meminfo"
    path.write_text(MEMINFO.format(avail=avail_kib))
    return path


def test_guests_that_fit(tmp_path):
    path = meminfo(tmp_path, 20000000)  # 19531 MiB available
    guest.check_memory(1, 2048, path)
    guest.check_memory(8, 2048, path)  # 8 × 2304 = 18432 ≤ 19531 - 1024
    guest.check_memory(2, 8192, path)


def test_guests_that_do_not_fit(tmp_path):
    path = meminfo(tmp_path, 20000000)
    with pytest.raises(UserError) as exc:
        guest.check_memory(9, 2048, path)  # 9 × 2304 = 20736
    assert str(exc.value) == (
        "9 guest(s) of 2048 MiB need about 20736 MiB; 19531 MiB are available (keep 1 GiB for the host). "
        "Use fewer --kernel/--cgroup values, --guest-memory, or --guest-jobs 1")


def test_the_host_keeps_one_gib(tmp_path):
    path = meminfo(tmp_path, (2304 + 1024) * 1024)  # exactly one guest plus the host's 1 GiB
    guest.check_memory(1, 2048, path)
    path = meminfo(tmp_path, (2304 + 1024) * 1024 - 1024)  # one MiB short
    with pytest.raises(UserError) as exc:
        guest.check_memory(1, 2048, path)
    assert str(exc.value).startswith("1 guest(s) of 2048 MiB need about 2304 MiB; 3327 MiB are available")


def test_no_memavailable_line_checks_nothing(tmp_path):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal:       24576000 kB\n")
    guest.check_memory(100, 4096, path)


def test_forced_accelerator(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path / "cache"))
    for accel in ("kvm", "tcg"):
        monkeypatch.setenv("REPROLAB_ACCEL", accel)
        assert guest.accelerator(tmp_path / "bzImage") == (accel, "REPROLAB_ACCEL")
    monkeypatch.setenv("REPROLAB_ACCEL", "hvf")
    with pytest.raises(UserError) as exc:
        guest.accelerator(tmp_path / "bzImage")
    assert str(exc.value) == "REPROLAB_ACCEL=hvf: choose kvm or tcg"
    assert not (tmp_path / "cache").exists()  # no probe, no memo


def test_strays_end_folders_whose_owner_is_gone(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path))
    proc = tmp_path / "proc"
    proc.mkdir()
    assert guest.strays(proc=str(proc)) == []
    run = tmp_path / "run"
    alive, dead, ownerless, garbled = (run / f"reprolab-guest-{n}" for n in ("alive", "dead", "none", "garbled"))
    for d in (alive, dead, ownerless, garbled):
        d.mkdir(parents=True)
    (proc / "4242").mkdir()  # the live owner, in the fake /proc
    (alive / "owner").write_text("4242\n")
    (dead / "owner").write_text("4243\n")
    (garbled / "owner").write_text("not a pid\n")
    out = guest.strays(proc=str(proc))
    assert sorted(out) == sorted([
        (f"guest folder {alive.name}", False, "its owner (pid 4242) is running"),
        (f"guest folder {dead.name}", True, "owner gone"),
        (f"guest folder {ownerless.name}", True, "owner gone"),
        (f"guest folder {garbled.name}", True, "owner gone")])
    assert [d.name for d in run.iterdir()] == [alive.name]
    assert guest.strays(force=True, proc=str(proc)) == [(f"guest folder {alive.name}", True, "--force")]
    assert not list(run.iterdir())


def test_console_tail(tmp_path):
    from reprolab.guests import qemu
    console = tmp_path / "console.log"
    cfg = qemu.GuestConfig(name="t", kernel_image="k", initramfs="i", root_overlay="r", modules_disk="m",
                           port=2, console=str(console))
    g = guest.Guest(cfg, proc=None, started=0)
    assert g.url == "tcp://127.0.0.1:2"
    assert g.console_tail() == ""
    console.write_bytes(b"".join(b"line %d\r\n" % i for i in range(100)) + b"\xff bad byte\r\n")
    assert g.console_tail(3) == "line 98\nline 99\n\ufffd bad byte"
