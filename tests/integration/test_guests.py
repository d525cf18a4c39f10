"""The kernel matrix for real: a Debian kernel booted under qemu, its own Docker engine, the lab's
images sent to it, and nothing left behind however the lab ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from integration.conftest import lab
from reprolab.common import cache

KERNEL = "5.10"  # bullseye's kernel: the oldest the lab takes, on the guests' bookworm userspace


def qemu_pids():
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"qemu-system-x86_64") and any(a.startswith(b"reprolab-") for a in argv):
                out.append(int(entry))
    return out


def guest_folders():
    run = cache.root() / "run"
    return sorted(run.iterdir()) if run.is_dir() else []


def start(args, tmp_path):
    return subprocess.Popen([sys.executable, str(ROOT / "lab.py"), "--results", str(tmp_path / "results"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def wait_for(proc, text, timeout):
    """Read the lab's stderr until `text` appears; the lines read so far."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return seen
    pytest.fail(f"'{text}' never appeared; lab said:\n{''.join(seen)[-3000:]}")


def test_a_fixture_scenario_runs_on_a_guest_kernel(client, tmp_path, fixture_scenarios):
    before = set(qemu_pids())
    proc = lab("--scenarios", str(fixture_scenarios), "--results", str(tmp_path / "results"), "run",
               "outcomes:present", "outcomes:absent", "--kernel", KERNEL, "--cgroup", "v1", timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    records = list((tmp_path / "results").glob("*.json"))
    assert len(records) == 1
    rec = json.loads(records[0].read_text())
    host, g = rec["host"], rec["host"]["guest"]
    assert host["kernel"].startswith("5.10.") and host["kernel"] == g["kernel_release"]
    assert host["kernel"] != os.uname().release
    assert host["cgroup"] == "v1" and g["cgroup"] == "v1"
    assert g["accel"] in ("kvm", "tcg") and g["boot_seconds"] > 0
    # the image disk brought both images, the base and the speed calibration: no docker load, no build
    assert g["images_on_disk"] == 4 and g["images_sent"] == 0 and g["image_disk"]  # with the calibration image
    assert host["local_engine"] is False and host["engine_url"].startswith("tcp://127.0.0.1:")
    assert (tmp_path / "results" / g["console_log"]).read_text(errors="replace").count("reprolab-initramfs") >= 1
    assert [(r["variant"], r["outcome"]) for r in rec["results"]] == [("present", "reproduced"),
                                                                        ("absent", "not-reproduced")]
    assert set(qemu_pids()) <= before and not guest_folders()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_no_guest_outlives_the_lab(client, tmp_path, fixture_scenarios, signum):
    before = set(qemu_pids())
    proc = subprocess.Popen([sys.executable, str(ROOT / "lab.py"), "--scenarios", str(fixture_scenarios),
                             "--results", str(tmp_path / "results"), "run", "outcomes:present",
                             "--kernel", KERNEL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        wait_for(proc, "booting", 600)
        time.sleep(3)
        mine = set(qemu_pids()) - before
        assert mine, "the guest's qemu should be running during boot"
        proc.send_signal(signum)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (130 if signum == signal.SIGINT else -signal.SIGKILL)
    deadline = time.monotonic() + 10
    while set(qemu_pids()) & mine and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(qemu_pids()) & mine, "qemu outlived the lab"
    if signum == signal.SIGINT:
        assert not guest_folders()


def test_unknown_kernel_lists_the_available_ones_and_boots_nothing(tmp_path):
    before = set(qemu_pids())
    proc = lab("--results", str(tmp_path), "run", "reexec", "--kernel", "9.99", timeout=300)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lab.py: --kernel 9.99: unknown kernel; available: bullseye, bookworm, trixie"), last
    assert "5.10" in last and "6.1" in last and "host" in last
    assert set(qemu_pids()) <= before and not list(tmp_path.glob("*.json"))


def test_a_file_that_is_not_a_kernel_is_refused(tmp_path):
    bogus = tmp_path / "bzImage"
    bogus.write_bytes(b"\x7fELF" + b"\0" * 4096)
    proc = lab("--results", str(tmp_path), "run", "reexec", "--kernel", str(bogus), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"lab.py: {bogus}: not a kernel image (no x86 boot header 'HdrS'); give a bzImage "
        f"(arch/x86/boot/bzImage or /boot/vmlinuz-*)")


def test_the_image_disk_leaves_the_host_engine_alone(client, tmp_path, monkeypatch):
    """The private dockerd that fills an image disk must not touch the host engine's network: a
    dockerd told `--bridge none` deletes any docker0 it sees (it did, once, and builds failed)."""
    from reprolab.guests import imagedisk
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path / "cache"))
    assert Path("/sys/class/net/docker0").exists()
    images = {"debian:bookworm": client.images.get("debian:bookworm").id}
    disk, seconds = imagedisk.disk_for(images, client)
    assert disk.exists() and seconds > 0
    assert Path("/sys/class/net/docker0").exists(), "the image disk's dockerd removed the host's bridge"
    out = client.containers.run("debian:bookworm", ["cat", "/sys/class/net/eth0/operstate"], remove=True)
    assert out.strip() == b"up"
    assert imagedisk.disk_for(images, client) == (disk, 0.0)  # cached by the image ids
