"""A qemu guest's life: pick the accelerator, boot, wait for its engine, and always end it.

Everything a guest leaves is bounded by its owner: qemu runs under `setpriv --pdeathsig KILL`, so it
dies with the thread that started it (and so with the lab, even on `kill -9`); its root overlay is
unlinked as soon as qemu holds it open, so no disk outlives qemu either. What is kept is the console
log, beside the run's logs.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from reprolab.common import cache, tool
from reprolab.guests import guestfs, qemu
from reprolab.common.errors import EngineError, UserError

QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = 300  # seconds from qemu's start to an answering engine (TCG on 2 cores: about 30–90)
KVM_PROBE_SECONDS = 15
OWNER_TAG = "reprolab-guest"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # systemd colours its status lines


def require_tools():
    for name in (QEMU, "qemu-img", "setpriv"):
        if not tool.which(name):
            raise UserError(tool.missing(name, "the kernel matrix needs it"))


def qemu_version():
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    return out.split("\n", 1)[0].replace("QEMU emulator version ", "").strip()


def check_memory(guests, memory_mb, meminfo="/proc/meminfo"):
    """UserError before anything boots when the guests cannot fit in available memory."""
    avail = 0
    for line in Path(meminfo).read_text().splitlines():
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1]) // 1024
    need = guests * (memory_mb + 256)  # qemu's own overhead on top of guest RAM
    if avail and need > avail - 1024:
        raise UserError(f"{guests} guest(s) of {memory_mb} MiB need about {need} MiB; {avail} MiB are available "
                        f"(keep 1 GiB for the host). Use fewer --kernel/--cgroup values, --guest-memory, "
                        f"or --guest-jobs 1")


def accelerator(kernel_image, progress=lambda msg: None):
    """'kvm' when /dev/kvm boots this kernel to its root mount within KVM_PROBE_SECONDS, else 'tcg'.

    Some machines have a /dev/kvm that boots no stock kernel (qemu aborts, or the kernel stalls in
    its decompressor), so opening the device proves nothing: the probe boots the kernel itself with
    no disk and waits for its 'VFS'/'Kernel panic' line. REPROLAB_ACCEL=kvm|tcg skips the probe."""
    forced = os.environ.get("REPROLAB_ACCEL", "")
    if forced:
        if forced not in ("kvm", "tcg"):
            raise UserError(f"REPROLAB_ACCEL={forced}: choose kvm or tcg")
        return forced, "REPROLAB_ACCEL"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "no usable /dev/kvm"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    memo = cache.folder("accel") / f"{boot_id}-{Path(kernel_image).name}"
    if memo.exists():
        accel, _, why = memo.read_text().partition("\n")
        return accel, f"{why.strip() or 'kvm boots this kernel'} (probed earlier this boot)"
    progress(f"probing /dev/kvm with {Path(kernel_image).name} (at most {KVM_PROBE_SECONDS} s)")
    with tempfile.TemporaryDirectory(prefix="reprolab-kvm-") as tmp:
        console = Path(tmp) / "console"
        argv = ["setpriv", "--pdeathsig", "KILL", QEMU, "-nodefaults", "-no-user-config", "-no-reboot",
                "-accel", "kvm", "-cpu", "host", "-m", "512", "-display", "none", "-monitor", "none",
                "-chardev", f"file,id=c,path={console}", "-serial", "chardev:c",
                "-kernel", str(kernel_image), "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ok, why = False, "no kernel output"
        deadline = time.monotonic() + KVM_PROBE_SECONDS
        try:
            while time.monotonic() < deadline:
                text = console.read_text(errors="replace") if console.exists() else ""
                if "VFS:" in text or "Kernel panic" in text:
                    ok = True
                    break
                if proc.poll() is not None:
                    why = (proc.stderr.read().decode(errors="replace").strip().splitlines() or ["qemu exited"])[-1]
                    break
                time.sleep(0.2)
            else:
                why = f"the kernel did not reach its root mount within {KVM_PROBE_SECONDS} s"
        finally:
            _end(proc)
    accel = "kvm" if ok else "tcg"
    why = "kvm boots this kernel" if ok else f"/dev/kvm refused: {why[:200]}"
    memo.write_text(f"{accel}\n{why}\n")
    return accel, why


def console_tail(path, lines=30):
    """The console log's last lines, without systemd's colour codes; '' when there is none."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(ANSI.sub("", text).replace("\r", "").splitlines()[-lines:])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    """One running guest; `url` reaches its engine."""

    def __init__(self, cfg, proc, started):
        self.cfg, self.proc, self.started = cfg, proc, started
        self.url = f"tcp://127.0.0.1:{cfg.port}"
        self.boot_seconds = None

    def console_tail(self, lines=30):
        return console_tail(self.cfg.console, lines)

    def wait_engine(self, timeout=BOOT_TIMEOUT, progress=lambda msg: None, stop=lambda: False):
        """Seconds from qemu's start until the guest's engine answers /_ping; EngineError otherwise."""
        deadline = self.started + timeout
        last_note = time.monotonic()
        while time.monotonic() < deadline:
            if stop():
                raise EngineError("stopped while booting")
            if self.proc.poll() is not None:
                raise EngineError(f"guest {self.cfg.name}: qemu exited with {self.proc.returncode} before its "
                                  f"engine answered (the console's last lines are in host.guest.console_tail)\n"
                                  f"{self.console_tail()}")
            try:
                if requests.get(f"http://127.0.0.1:{self.cfg.port}/_ping", timeout=2).ok:
                    self.boot_seconds = round(time.monotonic() - self.started, 1)
                    return self.boot_seconds
            except requests.exceptions.RequestException:
                pass
            if time.monotonic() - last_note >= 10:
                last_note = time.monotonic()
                line = next((ln for ln in reversed(self.console_tail(5).splitlines()) if ln.strip()), "")
                progress(f"booting, {time.monotonic() - self.started:.0f} s: {line.strip()[:100]}")
            time.sleep(0.5)
        raise EngineError(f"guest {self.cfg.name}: no engine answered within {timeout} s (the console's last "
                          f"lines are in host.guest.console_tail)\n{self.console_tail()}")


@contextmanager
def booted(kernel, cgroup, console, memory_mb=2048, cpus=2, accel="tcg", progress=lambda msg: None,
           name=None, boot_timeout=BOOT_TIMEOUT, stop=lambda: False, images_disk=None):
    """Boot a guest of `kernel` with `cgroup` layout; yield it once its engine answers; always end it.
    `images_disk` (imagedisk.py) becomes its /var/lib/docker, through an overlay of its own."""
    require_tools()
    disk = guestfs.rootfs(progress)
    initrd, modules = guestfs.boot_files(kernel, progress)
    work = Path(tempfile.mkdtemp(prefix=f"{OWNER_TAG}-", dir=cache.folder("run")))
    (work / "owner").write_text(f"{os.getpid()}\n")
    proc = None
    try:
        overlay = work / "root.qcow2"
        images_overlay = work / "images.qcow2" if images_disk else None
        for base, top in ((disk, overlay), (images_disk, images_overlay)):
            if base:
                subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(top)],
                               check=True, capture_output=True, timeout=60)
        Path(console).parent.mkdir(parents=True, exist_ok=True)
        cfg = qemu.GuestConfig(name=name or f"{kernel.release}-{cgroup}", kernel_image=str(kernel.image),
                               initramfs=str(initrd), root_overlay=str(overlay), modules_disk=str(modules),
                               cgroup=cgroup, accel=accel, memory_mb=memory_mb, cpus=cpus, port=free_port(),
                               console=str(console), images_overlay=str(images_overlay or ""))
        progress(f"booting {kernel.release} ({cgroup}, {accel}, {memory_mb} MiB) with its engine on {cfg.port}")
        started = time.monotonic()
        # setpriv: qemu gets SIGKILL when the thread that started it ends, whatever ends it
        proc = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", *qemu.argv(cfg, QEMU)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _release_when_open(proc, [p for p in (overlay, images_overlay) if p], work)
        g = Guest(cfg, proc, started)
        g.wait_engine(boot_timeout, progress, stop)
        yield g
    finally:
        if proc is not None:
            _end(proc)
        shutil.rmtree(work, ignore_errors=True)


def _release_when_open(proc, overlays, work, timeout=20):
    """Unlink the overlays once qemu holds them open: then nothing on disk outlives qemu."""
    deadline = time.monotonic() + timeout
    targets = {str(p) for p in overlays}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            held = set()
            for fd in os.listdir(f"/proc/{proc.pid}/fd"):
                try:
                    held.add(os.readlink(f"/proc/{proc.pid}/fd/{fd}"))
                except OSError:
                    pass
            if targets <= held:
                shutil.rmtree(work, ignore_errors=True)
                return
        except OSError:
            pass
        time.sleep(0.05)


def _end(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stderr:
        proc.stderr.close()


def strays(force=False, proc="/proc"):
    """End guests whose owner is gone (or all, with force): [(what, removed, reason)].

    qemu dies with its owner (pdeathsig), so an orphan means a lab that predates that, or a qemu
    started by hand with the lab's name; a work folder whose owner pid is gone is left by a lab
    killed in the second between creating the overlay and qemu opening it."""
    out = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            argv = Path(proc, entry, "cmdline").read_bytes().split(b"\0")
            ppid = int(Path(proc, entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if not argv or not argv[0].endswith(QEMU.encode()) or b"-name" not in argv:
            continue
        name = argv[argv.index(b"-name") + 1].decode(errors="replace") if argv.index(b"-name") + 1 < len(argv) else ""
        if not name.startswith("reprolab-"):
            continue
        orphan = ppid == 1 or not Path(proc, str(ppid)).exists()
        if orphan or force:
            try:
                os.kill(int(entry), 9)
                out.append((f"qemu {entry} ({name})", True, "owner gone" if orphan else "--force"))
            except OSError as exc:
                out.append((f"qemu {entry} ({name})", False, f"cannot kill: {exc.strerror}"))
        else:
            out.append((f"qemu {entry} ({name})", False, f"its owner (pid {ppid}) is running"))
    run = cache.root() / "run"
    for d in sorted(run.iterdir()) if run.is_dir() else []:
        try:
            pid = int((d / "owner").read_text())
            alive = Path(proc, str(pid)).exists()
        except (OSError, ValueError):
            alive = False
        if alive and not force:
            out.append((f"guest folder {d.name}", False, f"its owner (pid {pid}) is running"))
            continue
        shutil.rmtree(d, ignore_errors=True)
        out.append((f"guest folder {d.name}", True, "owner gone" if not alive else "--force"))
    return out
