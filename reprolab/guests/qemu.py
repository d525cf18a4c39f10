"""Pure: a guest's configuration → its kernel command line and qemu's argv (golden-tested)."""

from dataclasses import dataclass

from reprolab.common.errors import UserError

CGROUPS = ("v1", "v2")
MIN_MEMORY_MB = 1024


@dataclass(frozen=True)
class GuestConfig:
    name: str  # e.g. "6.1-v2"; names the qemu process and the console log
    kernel_image: str
    initramfs: str
    root_overlay: str  # qcow2 over the shared root disk: the guest's writes die with it
    modules_disk: str  # ext4 with lib/modules/<release>, attached read-only
    cgroup: str = "v2"
    accel: str = "tcg"
    memory_mb: int = 2048
    cpus: int = 2
    port: int = 0  # host port on 127.0.0.1 forwarded to the guest engine
    engine_port: int = 2375
    console: str = "console.log"
    images_overlay: str = ""  # qcow2 over the image disk (imagedisk.py), mounted at /var/lib/docker

    def __post_init__(self):
        if self.cgroup not in CGROUPS:
            raise UserError(f"--cgroup {self.cgroup}: choose v1 or v2")
        if self.accel not in ("kvm", "tcg"):
            raise UserError(f"accelerator {self.accel}: choose kvm or tcg")
        if self.memory_mb < MIN_MEMORY_MB:
            raise UserError(f"--guest-memory {self.memory_mb}: a guest needs at least {MIN_MEMORY_MB} MiB")
        if not 0 < self.port < 65536:
            raise UserError(f"guest port {self.port} is not a TCP port")


def kernel_cmdline(cfg):
    """systemd picks the cgroup layout; AppArmor stays as Debian ships it (on)."""
    unified = "1" if cfg.cgroup == "v2" else "0"
    return " ".join([
        "console=ttyS0,115200", "panic=-1", "rw",
        # 0 gives what a v1 distribution runs: v1 controllers beside systemd's cgroup2 (hybrid)
        f"systemd.unified_cgroup_hierarchy={unified}",
        "systemd.show_status=1", "net.ifnames=0",
        # the lab's initramfs mounts the image disk (/dev/vdc) at /var/lib/docker
        *(["reprolab.images=1"] if cfg.images_overlay else []),
    ])


def argv(cfg, binary="qemu-system-x86_64"):
    """The qemu command line: no display, serial console to a file, no network but one port forward
    bound to 127.0.0.1 (`restrict=on`: the guest reaches nothing outside)."""
    accel = ["-accel", "kvm", "-cpu", "host"] if cfg.accel == "kvm" else ["-accel", "tcg,thread=multi", "-cpu", "max"]
    return [
        binary, "-name", f"reprolab-{cfg.name}", "-nodefaults", "-no-user-config", "-no-reboot",
        *accel, "-m", str(cfg.memory_mb), "-smp", str(cfg.cpus),
        "-display", "none", "-monitor", "none",
        "-chardev", f"file,id=console,path={_opt(cfg.console)}", "-serial", "chardev:console",
        "-kernel", cfg.kernel_image, "-initrd", cfg.initramfs, "-append", kernel_cmdline(cfg),
        # cache=unsafe: the overlay is thrown away with the guest, so flushes buy nothing
        "-drive", f"file={_opt(cfg.root_overlay)},if=virtio,format=qcow2,cache=unsafe",
        "-drive", f"file={_opt(cfg.modules_disk)},if=virtio,format=raw,readonly=on",
        *(["-drive", f"file={_opt(cfg.images_overlay)},if=virtio,format=qcow2,cache=unsafe"]
          if cfg.images_overlay else []),
        "-nic", f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:{cfg.port}-:{cfg.engine_port}",
        "-device", "virtio-rng-pci",
    ]


def _opt(value):
    """A value inside a qemu option list: a comma there would end it, so qemu wants it doubled."""
    return str(value).replace(",", ",,")
