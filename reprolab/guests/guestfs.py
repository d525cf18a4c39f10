"""Disks a guest boots from: one root filesystem for every kernel, and per kernel a modules disk and
an initramfs. All are built from Debian packages through the host's mirror and cached.

The root filesystem is a stock Debian bookworm (systemd, udev, AppArmor, docker.io: the same Docker
20.10 as the lab's own engine), so a guest is what most users run: real privileged mode, AppArmor
on, cgroup v2 by default. Its engine listens on the guest's TCP port 2375, which only a qemu port
forward bound to 127.0.0.1 on the host reaches (the guest has no other network).
"""

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

from reprolab.common import cache, heartbeat, tool, whoami
from reprolab.engines import bases, engine, rootstep
from reprolab.guests import initramfs

SUITE = "bookworm"
PACKAGES = ("systemd-sysv", "udev", "kmod", "iproute2", "docker.io", "apparmor", "procps",
            "ca-certificates", "busybox-static")
DISK_SIZE = "24G"  # sparse: room for the toolchain images of all three suites
ENGINE_PORT = 2375
# Bumped whenever the recipe below changes, so cached root filesystems are rebuilt.
RECIPE = 3

NETWORK = """[Match]
Name=en* eth*

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
LinkLocalAddressing=no
IPv6AcceptRA=no
"""

DOCKER_DROPIN = f"""[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:{ENGINE_PORT} --containerd=/run/containerd/containerd.sock
"""

# Timers and services that would run at random moments during a race; the guest needs none of them.
MASKED = ("apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer",
          "systemd-timesyncd.service", "getty@tty1.service", "systemd-networkd-wait-online.service")


def rootfs(progress=lambda msg: None):
    """Path of the cached root disk image (raw ext4), built on first use (about 2–3 minutes).

    Root builds it on the host; a user of the Docker engine in a container on it (rootstep.py),
    from the same debootstrap, edits and mkfs.ext4, and ends owning the disk."""
    dest = cache.root() / "rootfs" / f"{SUITE}-r{RECIPE}"
    disk = dest / "disk.img"
    if (dest / "rootfs.json").exists() and disk.exists():
        return disk
    tool.require("debootstrap", "the guest root filesystem")
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    archive, security = bases.mirrors()
    start = time.monotonic()
    progress(f"guest root filesystem ({SUITE} with {', '.join(PACKAGES)}): debootstrap, about 2–3 minutes"
             + ("" if whoami.as_root() else ", as root in a container on the Docker engine"))
    if whoami.as_root():
        tree = work / "tree"
        tree.mkdir()
        tool.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(tree), archive],
                 "debootstrap of the guest root filesystem", 1800)
        configure(tree, archive, security)
        progress(f"guest root filesystem: making the {DISK_SIZE} sparse disk image")
        mkfs(tree, work / "disk.img", DISK_SIZE, "reprolab-root")
        shutil.copy2(tree / "bin" / "busybox", work / "busybox")
        shutil.rmtree(tree)
    else:
        _rootfs_in_container(work, archive, security, progress)
    (work / "rootfs.json").write_text(json.dumps({
        "suite": SUITE, "packages": list(PACKAGES), "recipe": RECIPE,
        "seconds": round(time.monotonic() - start, 1), "root_steps": whoami.root_steps(),
        "made_by": whoami.user()["name"]}, indent=1) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    work.rename(dest)
    return disk


def _rootfs_in_container(work, archive, security, progress):
    """The root path's steps as root in a container: the tree lives in the container's own layer
    (it goes with the container), only disk.img and busybox reach `work`, owned by the user."""
    with tempfile.TemporaryDirectory(prefix="reprolab-etc-") as stage:
        stage = Path(stage)
        stage.chmod(0o755)  # `cp -a /in/.` gives the tree's root the mode of this folder
        configure_etc(stage, archive, security)  # the same edits, applied over the tree in the container
        script = "\n".join([
            f"debootstrap --variant=minbase --include={','.join(PACKAGES)} {SUITE} /tree \"$REPROLAB_MIRROR\"",
            "rm -rf /tree/var/cache/apt/archives",
            "mkdir -p /tree/var/cache/apt/archives/partial /tree/lib/modules",
            "cp -a --no-preserve=ownership --remove-destination /in/. /tree/",
            f"echo 'reprolab: making the {DISK_SIZE} sparse disk image'",
            " ".join(mkfs_argv("/tree", "/out/disk.img", DISK_SIZE, "reprolab-root")),
            "cp /tree/bin/busybox /out/busybox",
        ])
        client = engine.connect()
        with heartbeat.activity(progress, "making the guest root filesystem in a container") as act:
            rootstep.run(client, "the guest root filesystem", script, 1800, out=work, network="host",
                         binds={stage: ("/in", "ro")}, env={"REPROLAB_MIRROR": archive}, on_line=act.detail)


def busybox():
    return cache.root() / "rootfs" / f"{SUITE}-r{RECIPE}" / "busybox"


def configure(tree, archive, security):
    """Make a debootstrapped tree a bootable engine host (pure file edits)."""
    tree = Path(tree)
    configure_etc(tree, archive, security)
    (tree / "lib" / "modules").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tree / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    (tree / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True, exist_ok=True)


def configure_etc(tree, archive, security):
    """The edits under /etc (files and symlinks): on the tree itself, or on an empty folder whose
    contents a root step copies over the tree."""
    tree = Path(tree)
    (tree / "etc" / "apt").mkdir(parents=True, exist_ok=True)
    (tree / "etc" / "hostname").write_text("reprolab-guest\n")
    (tree / "etc" / "hosts").write_text("127.0.0.1 localhost reprolab-guest\n")
    (tree / "etc" / "fstab").write_text("# root and /lib/modules are mounted by the lab's initramfs\n")
    (tree / "etc" / "apt" / "sources.list").write_text(bases.sources_list(SUITE, archive, security))
    net = tree / "etc" / "systemd" / "network"
    net.mkdir(parents=True, exist_ok=True)
    (net / "10-qemu.network").write_text(NETWORK)
    wants = tree / "etc" / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit in ("systemd-networkd.service",):
        link = wants / unit
        if not link.exists():
            link.symlink_to(f"/lib/systemd/system/{unit}")
    dropin = tree / "etc" / "systemd" / "system" / "docker.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "reprolab.conf").write_text(DOCKER_DROPIN)
    for unit in MASKED:
        link = tree / "etc" / "systemd" / "system" / unit
        if not link.exists() and not link.is_symlink():
            link.symlink_to("/dev/null")


def mkfs_argv(tree, image, size, label):
    # No orphan_file/metadata_csum_seed: kernel 5.10 cannot mount a file system that has them.
    return ["mkfs.ext4", "-q", "-F", "-L", label, "-O", "^orphan_file,^metadata_csum_seed", "-E", "root_owner=0:0",
            "-d", str(tree), str(image), size]


def mkfs(tree, image, size, label):
    """A sparse ext4 image of `size` holding `tree` (every kernel the lab boots can mount it)."""
    image = Path(image)
    if image.exists():
        image.unlink()
    if whoami.as_root():
        tool.run(mkfs_argv(tree, image, size, label), f"mkfs.ext4 of {image.name}", 600)
        return
    # A user's tree is the user's: a copy owned by root, in a container, makes the image's files root's
    tool.require("mkfs.ext4", f"mkfs.ext4 of {image.name}")
    out = image.with_name(f".{image.name}.step")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    try:
        script = "\n".join(["mkdir -p /tmp/tree", "cp -a /in/. /tmp/tree/",
                            "chown -R 0:0 /tmp/tree",
                            " ".join(mkfs_argv("/tmp/tree", f"/out/{image.name}", size, label))])
        rootstep.run(engine.connect(), f"mkfs.ext4 of {image.name}", script, 600, out=out,
                     binds={Path(tree).resolve(): ("/in", "ro")})
        (out / image.name).rename(image)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def boot_files(kernel, progress=lambda msg: None):
    """(initramfs, modules disk) for a Kernel, cached beside it (or in the cache for a file kernel)."""
    if kernel.origin.startswith("debian"):
        dest = Path(kernel.image).parent
    else:
        dest = cache.folder("kernels", f"file-{kernel.release}-{Path(kernel.image).stat().st_mtime_ns}")
    # the initramfs is named after its init script, so a changed script makes a new one
    stamp = hashlib.sha256(initramfs.INIT.encode()).hexdigest()[:8]
    initrd, modules = dest / f"initramfs-{stamp}.img", dest / "modules.img"
    if initrd.exists() and modules.exists():
        return initrd, modules
    progress(f"kernel {kernel.release}: making its initramfs and modules disk")
    tree = Path(kernel.modules) / "lib" / "modules" if str(kernel.modules) not in ("", ".") else None
    has_modules = tree is not None and (tree / kernel.release).is_dir()
    if not initrd.exists():
        part = initrd.with_suffix(".partial")
        initramfs.build(busybox(), kernel.modules if has_modules else "/nonexistent", kernel.release, part)
        part.rename(initrd)
    if not modules.exists():
        if has_modules:
            src, size = tree, f"{max(256, int(cache.size(tree) * 1.5) >> 20) + 64}M"
        else:  # a monolithic build: drivers built in; an empty modules disk keeps the disk layout the same
            src, size = dest / "empty", "64M"
            src.mkdir(exist_ok=True)
        part = modules.with_suffix(".partial")
        mkfs(src, part, size, "reprolab-mods")
        part.rename(modules)
    return initrd, modules
