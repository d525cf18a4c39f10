"""A tiny initramfs per guest kernel: busybox, the modules that reach the root disk, switch_root.

Debian builds virtio_blk and ext4 as modules (some kernels build virtio_pci in), and Debian's own
initrd exists only for the suite's kernel inside its root filesystem. This one works for every
kernel: it loads the closure of DRIVERS from modules.dep (skipping built-ins), mounts the root disk
(/dev/vda) and the kernel's modules disk (/dev/vdb, read-only, at /lib/modules) and hands over to
systemd. It boots in a few seconds where Debian's full initrd takes tens under TCG.
"""

import gzip
import io
import lzma
import stat
from pathlib import Path

DRIVERS = ("virtio_pci", "virtio_blk", "ext4", "crc32c_generic")

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "reprolab-initramfs: loading drivers"
while read -r m; do insmod "/lib/modules/$m" || echo "reprolab-initramfs: insmod $m failed"; done < /modules.order
images=; grep -q reprolab.images=1 /proc/cmdline && images=/dev/vdc
for i in $(seq 1 300); do [ -b /dev/vda ] && [ -b /dev/vdb ] && { [ -z "$images" ] || [ -b $images ]; } && break; sleep 0.1; done
mount -t ext4 -o rw /dev/vda /newroot || { echo "reprolab-initramfs: cannot mount /dev/vda"; poweroff -f; }
mount -t ext4 -o ro /dev/vdb /newroot/lib/modules || echo "reprolab-initramfs: no modules disk"
if [ -n "$images" ]; then
  mkdir -p /newroot/var/lib/docker
  mount -t ext4 -o rw $images /newroot/var/lib/docker || echo "reprolab-initramfs: cannot mount the image disk"
fi
umount /proc /sys
mount --move /dev /newroot/dev
echo "reprolab-initramfs: switching to the root disk"
exec switch_root /newroot /sbin/init
"""


def closure(wanted, modules_dep, builtin=""):
    """Module paths (relative to lib/modules/<release>) to insmod in order, dependencies first (pure).

    `modules_dep` is the text of modules.dep; a wanted name that is built in or absent is skipped."""
    deps, by_name = {}, {}
    for line in modules_dep.splitlines():
        if ":" not in line:
            continue
        mod, rest = line.split(":", 1)
        deps[mod] = rest.split()
        by_name[_name(mod)] = mod
    built_in = {_name(p) for p in builtin.split()}
    order, seen = [], set()

    def visit(mod):
        if mod in seen:
            return
        seen.add(mod)
        for d in deps.get(mod, []):
            visit(d)
        order.append(mod)

    for name in wanted:
        name = name.replace("-", "_")
        if name in built_in or name not in by_name:
            continue
        visit(by_name[name])
    return order


def _name(path):
    base = Path(path).name
    for ext in (".xz", ".zst", ".gz"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base[:-3].replace("-", "_") if base.endswith(".ko") else base.replace("-", "_")


class Cpio:
    """A gzip'd cpio archive in the kernel's 'newc' format (pure, in memory)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
        self.ino += 1
        head = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.buf.write(head + name.encode() + b"\0")
        self._pad()
        self.buf.write(data)
        self._pad()

    def _pad(self):
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def chardev(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return gzip.compress(self.buf.getvalue(), compresslevel=6, mtime=0)


def build(busybox, modules_root, release, out):
    """Write the initramfs for `release` (modules under modules_root/lib/modules/<release>) to `out`."""
    moddir = Path(modules_root) / "lib" / "modules" / release
    dep = (moddir / "modules.dep").read_text() if (moddir / "modules.dep").exists() else ""
    builtin = (moddir / "modules.builtin").read_text() if (moddir / "modules.builtin").exists() else ""
    order = closure(DRIVERS, dep, builtin)
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3)
    c.file("bin/busybox", Path(busybox).read_bytes(), 0o755)
    c.file("init", INIT.encode(), 0o755)
    names = []
    for rel in order:
        data = (moddir / rel).read_bytes()
        if rel.endswith(".xz"):
            data, rel = lzma.decompress(data), rel[:-3]
        elif rel.endswith((".zst", ".gz")):
            raise ValueError(f"{rel}: compressed modules other than .xz are not supported")
        flat = rel.replace("/", "_")
        c.file(f"lib/modules/{flat}", data)
        names.append(flat)
    c.file("modules.order", ("\n".join(names) + "\n").encode() if names else b"")
    Path(out).write_bytes(c.finish())
    return order
