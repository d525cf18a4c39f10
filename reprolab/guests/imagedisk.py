"""A disk that already holds the images: a guest's engine starts with them, nothing is loaded there.

`docker load` inside a TCG guest is slow (every layer is unpacked and hashed by an emulated CPU:
about 1 MiB/s here), and each guest would pay it again. Instead a private dockerd on the host, the
same Docker 20.10 the guests run, loads the images once into its own data root (at native speed),
and that data root becomes an ext4 disk image. Each guest mounts it (through its own copy-on-write
overlay) as /var/lib/docker. Image ids, labels and layers are the ones `docker load` would give,
so the lab's reuse check recognises every image. The disk is cached, keyed by the image ids.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from reprolab.common import cache, tool, whoami
from reprolab.engines import rootstep, transfer
from reprolab.guests import guestfs
from reprolab.common.errors import EngineError

SIZE = "32G"  # sparse; the guest's containers write into the same file system
KEEP = 4  # image disks kept in the cache (the most recently used)
START_TIMEOUT = 60
# What the private engine leaves that a guest's engine must make for itself.
NOT_KEPT = ("containers", "network", "runtimes", "tmp", "engine-id", "buildkit", "swarm", "plugins", "trust")


def key(images):
    """Stable name of an image set ({name: id}) and the Docker version that stored it."""
    h = hashlib.sha256(json.dumps(sorted(images.items())).encode())
    h.update(_dockerd_version().encode())
    return h.hexdigest()[:16]


def disk_for(images, source, progress=lambda msg: None):
    """(path of the cached disk holding `images` from engine `source`, seconds spent making it)."""
    folder = cache.folder("images")
    disk = folder / f"{key(images)}.img"
    if disk.exists():
        os.utime(disk)
        return disk, 0.0
    start = time.monotonic()
    if not whoami.as_root():
        _disk_in_container(images, source, folder, disk, progress)
        _prune(folder)
        return disk, round(time.monotonic() - start, 1)
    with tempfile.TemporaryDirectory(prefix="reprolab-imagedisk-", dir=folder) as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        with _private_engine(tmp) as client:
            progress(f"image disk: loading {len(images)} image(s) into a private engine")
            transfer.copy(source, client, list(images), progress)
            for name, image_id in images.items():
                got = client.images.get(name).id
                if got != image_id:
                    raise EngineError(f"image disk: {name} arrived as {got}, not {image_id}")
        for name in NOT_KEPT:
            target = data / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        progress(f"image disk: writing the {SIZE} sparse disk")
        part = disk.with_suffix(".partial")
        try:
            guestfs.mkfs(data, part, SIZE, "reprolab-images")
        except EngineError:
            part.unlink(missing_ok=True)
            raise
        part.rename(disk)
    _prune(folder)
    return disk, round(time.monotonic() - start, 1)


def _disk_in_container(images, source, folder, disk, progress):
    """The same private engine and mkfs.ext4, as root in a container on the lab's engine (`source`):
    its data root is the container's anonymous volume (no overlayfs under overlay2), its socket is
    given to the user's group, and only the finished disk reaches the cache, owned by the user."""
    tool.require("dockerd", "the image disk's private engine")
    keep = " ".join(NOT_KEPT)
    script = "\n".join([
        "mkdir -p /run/rl",
        f"dockerd --data-root /data/docker --exec-root /run/rl --pidfile /run/rl/dockerd.pid "
        f"-H unix:///sock/docker.sock --group \"$REPROLAB_GID\" --bridge none --iptables=false --ip6tables=false "
        f"--ip-masq=false --storage-driver overlay2 --log-level warn --containerd-namespace reprolab-imagedisk "
        f"--containerd-plugins-namespace reprolab-imagedisk-plugins >/run/rl/dockerd.log 2>&1 &",
        "d=$!",
        "while [ ! -e /sock/loaded ]; do",
        "  kill -0 $d 2>/dev/null || { echo 'the private dockerd ended:'; tail -n 3 /run/rl/dockerd.log; exit 3; }",
        "  sleep 0.3",
        "done",
        "kill -TERM $d; wait $d || true",
        f"cd /data/docker && rm -rf {keep}",
        f"echo 'reprolab: writing the {SIZE} sparse disk'",
        " ".join(guestfs.mkfs_argv("/data/docker", "/out/disk.img", SIZE, "reprolab-images")),
    ])
    # a short folder for the socket: its path must fit in 108 bytes
    with tempfile.TemporaryDirectory(prefix="rl-sock-") as sock, \
            tempfile.TemporaryDirectory(prefix="reprolab-imagedisk-", dir=folder) as out:
        sock, out = Path(sock), Path(out)
        with rootstep.Step(source, "the image disk", script, out=out, binds={sock: ("/sock", "rw")},
                           volume="/data", env={"REPROLAB_GID": str(os.getgid())}) as step:
            client = _wait_socket(sock / "docker.sock", step)
            progress(f"image disk: loading {len(images)} image(s) into a private engine (in a container)")
            transfer.copy(source, client, list(images), progress)
            for name, image_id in images.items():
                got = client.images.get(name).id
                if got != image_id:
                    raise EngineError(f"image disk: {name} arrived as {got}, not {image_id}")
            client.close()
            progress(f"image disk: writing the {SIZE} sparse disk")
            (sock / "loaded").touch()
            step.wait(1800)
        (out / "disk.img").rename(disk)


def _wait_socket(path, step):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not step.running():
            break
        if path.exists():
            try:
                client = docker.DockerClient(base_url=f"unix://{path}", timeout=900)
                client.ping()
                return client
            except Exception:  # noqa: BLE001 - not up yet
                pass
        time.sleep(0.3)
    raise EngineError(f"image disk: the private dockerd did not start: {step.tail(3)[:300]}")


def _prune(folder):
    disks = sorted(folder.glob("*.img"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in disks[KEEP:]:
        old.unlink(missing_ok=True)


def _dockerd_version():
    try:
        return subprocess.run([tool.which("dockerd") or "dockerd", "--version"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


class _private_engine:
    """A dockerd of its own (data root, exec root, socket, containerd namespace), no networking."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.proc = None

    def __enter__(self):
        dockerd = tool.require("dockerd", "the image disk's private engine")
        # a short exec root: the engine's and containerd's socket paths must fit in 108 bytes
        self.exec_root = Path(tempfile.mkdtemp(prefix="rl-", dir="/run" if os.access("/run", os.W_OK) else None))
        sock = self.exec_root / "docker.sock"
        # Its own network namespace: a dockerd told `--bridge none` deletes any `docker0` it sees, which
        # would be the host engine's bridge (its builds then fail: "could not find bridge docker0").
        # Its own mount namespace: the bind mounts it makes in its data root end with it.
        argv = ["setpriv", "--pdeathsig", "KILL", "unshare", "--net", "--mount", dockerd, "--data-root", str(self.tmp / "data"),
                "--exec-root", str(self.exec_root), "--pidfile", str(self.tmp / "dockerd.pid"),
                "-H", f"unix://{sock}", "--bridge", "none", "--iptables=false", "--ip6tables=false",
                "--ip-masq=false", "--storage-driver", "overlay2", "--log-level", "warn",
                "--containerd-namespace", "reprolab-imagedisk",
                "--containerd-plugins-namespace", "reprolab-imagedisk-plugins"]
        self.log = open(self.tmp / "dockerd.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                client = docker.DockerClient(base_url=f"unix://{sock}", timeout=900)
                client.ping()
                return client
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.3)
        self.log.flush()
        tail = (self.tmp / "dockerd.log").read_text(errors="replace").strip().splitlines()[-3:]
        self.__exit__(None, None, None)
        raise EngineError(f"image disk: the private dockerd did not start: {' | '.join(tail)[:300]}")

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.exec_root, ignore_errors=True)
        return False
