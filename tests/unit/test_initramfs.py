"""initramfs: the module closure from modules.dep, the newc cpio writer (read back here), and build."""

import gzip
import lzma
import stat

import pytest

from reprolab.guests import initramfs

MODULES_DEP = """\
kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
kernel/drivers/virtio/virtio_ring.ko.xz:
kernel/drivers/virtio/virtio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz
kernel/lib/crc16.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/fs/jbd2/jbd2.ko.xz:
kernel/crypto/crc32c_generic.ko.xz:
kernel/drivers/net/dummy.ko.xz:
kernel/drivers/input/serio/i8042-extra.ko.xz:
"""
BUILTIN = "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio_pci_modern_dev.ko\n"


def deps_of(text):
    return {line.split(":")[0]: line.split(":")[1].split() for line in text.splitlines() if ":" in line}


def test_closure_puts_dependencies_first_and_skips_built_ins_and_absent_modules():
    order = initramfs.closure(initramfs.DRIVERS, MODULES_DEP, BUILTIN)
    assert order == [
        "kernel/drivers/virtio/virtio_ring.ko.xz", "kernel/drivers/virtio/virtio.ko.xz",
        "kernel/drivers/block/virtio_blk.ko.xz",
        "kernel/lib/crc16.ko.xz", "kernel/fs/mbcache.ko.xz", "kernel/fs/jbd2/jbd2.ko.xz", "kernel/fs/ext4/ext4.ko.xz",
        "kernel/crypto/crc32c_generic.ko.xz",
    ]
    deps = deps_of(MODULES_DEP)
    for i, mod in enumerate(order):
        assert set(deps[mod]) <= set(order[:i]), mod
    assert "kernel/drivers/net/dummy.ko.xz" not in order  # present but not wanted


def test_closure_when_virtio_pci_is_a_module():
    dep = MODULES_DEP + "kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz " \
                        "kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz\n" \
                        "kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz:\n"
    order = initramfs.closure(["virtio_pci", "virtio_blk"], dep, "")
    assert order == ["kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz", "kernel/drivers/virtio/virtio_ring.ko.xz",
                     "kernel/drivers/virtio/virtio.ko.xz", "kernel/drivers/virtio/virtio_pci.ko.xz",
                     "kernel/drivers/block/virtio_blk.ko.xz"]
    # the order is only valid when each module comes after its own dependencies
    deps = deps_of(dep)
    for i, mod in enumerate(order):
        assert set(deps[mod]) <= set(order[:i]), mod


def test_closure_names_and_edge_cases():
    assert initramfs.closure(["i8042-extra"], MODULES_DEP) == ["kernel/drivers/input/serio/i8042-extra.ko.xz"]
    assert initramfs.closure(["i8042_extra"], MODULES_DEP) == ["kernel/drivers/input/serio/i8042-extra.ko.xz"]
    assert initramfs.closure(["virtio_scsi", "nvme"], MODULES_DEP) == []
    assert initramfs.closure(initramfs.DRIVERS, "") == []
    plain = "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\nkernel/fs/jbd2/jbd2.ko:\n"
    assert initramfs.closure(["ext4", "jbd2", "ext4"], plain) == ["kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko"]
    assert initramfs.closure(["ext4"], plain, "kernel/fs/ext4/ext4.ko\n") == []


def read_newc(blob):
    """[(name, mode, rdev (major, minor), data)] of a gzip'd newc archive, TRAILER!!! included; checks the
    magic and the 4-byte alignment the kernel's unpacker relies on."""
    raw = gzip.decompress(blob)
    out, pos = [], 0
    while True:
        assert pos % 4 == 0
        head = raw[pos:pos + 110]
        assert head[:6] == b"070701", f"bad magic at {pos}: {head[:6]!r}"
        f = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        _ino, mode, _uid, _gid, _nlink, _mtime, filesize, _maj, _min, rmaj, rmin, namesize, check = f
        assert check == 0
        name_end = pos + 110 + namesize
        assert raw[name_end - 1] == 0
        name = raw[pos + 110:name_end - 1].decode()
        data_start = name_end + (-name_end % 4)
        assert raw[name_end:data_start] == b"\0" * (data_start - name_end)
        data = raw[data_start:data_start + filesize]
        out.append((name, mode, (rmaj, rmin), data))
        pos = data_start + filesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            assert raw[pos:] == b""
            return out


def test_cpio_round_trip():
    c = initramfs.Cpio()
    c.dir("dev")
    c.chardev("dev/console", 5, 1)
    c.file("init", b"#!/bin/sh\n", 0o755)
    c.file("a", b"x")  # odd sizes exercise the padding
    c.file("empty", b"")
    c.file("lib/modules/kernel_fs_ext4_ext4.ko", b"\x7fELF" + bytes(range(256)) * 3)
    entries = read_newc(c.finish())
    assert [(n, m, r) for n, m, r, _ in entries] == [
        ("dev", stat.S_IFDIR | 0o755, (0, 0)),
        ("dev/console", stat.S_IFCHR | 0o600, (5, 1)),
        ("init", stat.S_IFREG | 0o755, (0, 0)),
        ("a", stat.S_IFREG | 0o644, (0, 0)),
        ("empty", stat.S_IFREG | 0o644, (0, 0)),
        ("lib/modules/kernel_fs_ext4_ext4.ko", stat.S_IFREG | 0o644, (0, 0)),
        ("TRAILER!!!", 0, (0, 0)),
    ]
    data = {n: d for n, _, _, d in entries}
    assert data["init"] == b"#!/bin/sh\n" and data["a"] == b"x" and data["empty"] == b""
    assert data["lib/modules/kernel_fs_ext4_ext4.ko"] == b"\x7fELF" + bytes(range(256)) * 3
    assert data["dev/console"] == b"" and data["dev"] == b""


def test_cpio_is_reproducible():
    def one():
        c = initramfs.Cpio()
        c.file("init", b"x", 0o755)
        return c.finish()
    assert one() == one()


RELEASE = "6.6.0-test"


@pytest.fixture
def modules_root(tmp_path):
    """A modules tree as depmod leaves it: plain .ko, one .ko.xz, modules.dep and modules.builtin."""
    root = tmp_path / "mods"
    moddir = root / "lib" / "modules" / RELEASE
    files = {
        "kernel/drivers/virtio/virtio_ring.ko": b"ring module",
        "kernel/drivers/virtio/virtio.ko": b"virtio module",
        "kernel/drivers/block/virtio_blk.ko": b"blk module",
        "kernel/fs/jbd2/jbd2.ko": b"jbd2 module",
        "kernel/fs/ext4/ext4.ko.xz": lzma.compress(b"ext4 module, decompressed", format=lzma.FORMAT_XZ,
                                                   check=lzma.CHECK_CRC32),
        "kernel/drivers/net/dummy.ko": b"not wanted",
    }
    for rel, data in files.items():
        (moddir / rel).parent.mkdir(parents=True, exist_ok=True)
        (moddir / rel).write_bytes(data)
    (moddir / "modules.dep").write_text(
        "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/virtio/virtio_ring.ko:\n"
        "kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko\n"
        "kernel/fs/jbd2/jbd2.ko:\n"
        "kernel/drivers/net/dummy.ko:\n")
    (moddir / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\nkernel/crypto/crc32c_generic.ko\n")
    return root


def test_build(tmp_path, modules_root):
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF fake busybox\0" * 50)
    out = tmp_path / "initramfs.img"
    order = initramfs.build(busybox, modules_root, RELEASE, out)
    assert order == ["kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
                     "kernel/drivers/block/virtio_blk.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko.xz"]
    entries = read_newc(out.read_bytes())
    names = [n for n, _, _, _ in entries]
    mode = {n: m for n, m, _, _ in entries}
    data = {n: d for n, _, _, d in entries}
    rdev = {n: r for n, _, r, _ in entries}
    assert len(names) == len(set(names)) and names[-1] == "TRAILER!!!"
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        assert mode[d] == stat.S_IFDIR | 0o755
    assert mode["dev/console"] == stat.S_IFCHR | 0o600 and rdev["dev/console"] == (5, 1)
    assert mode["dev/null"] == stat.S_IFCHR | 0o600 and rdev["dev/null"] == (1, 3)
    assert mode["init"] == stat.S_IFREG | 0o755 and data["init"] == initramfs.INIT.encode()
    assert data["init"].startswith(b"#!/bin/busybox sh\n")
    assert mode["bin/busybox"] == stat.S_IFREG | 0o755 and data["bin/busybox"] == busybox.read_bytes()
    flat = ["kernel_drivers_virtio_virtio_ring.ko", "kernel_drivers_virtio_virtio.ko",
            "kernel_drivers_block_virtio_blk.ko", "kernel_fs_jbd2_jbd2.ko", "kernel_fs_ext4_ext4.ko"]
    assert data["modules.order"].decode().splitlines() == flat
    assert [n for n in names if n.startswith("lib/modules/")] == [f"lib/modules/{f}" for f in flat]
    assert data["lib/modules/kernel_fs_ext4_ext4.ko"] == b"ext4 module, decompressed"
    assert data["lib/modules/kernel_drivers_block_virtio_blk.ko"] == b"blk module"
    assert not any("dummy" in n or n.endswith(".xz") for n in names)
    # every directory a file lands in exists before it (the kernel does not create parents)
    for i, n in enumerate(names):
        if "/" in n and n != "TRAILER!!!":
            assert n.rsplit("/", 1)[0] in names[:i], n


def test_build_for_a_monolithic_kernel_has_no_modules(tmp_path):
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"bb")
    out = tmp_path / "initramfs.img"
    assert initramfs.build(busybox, tmp_path / "nonexistent", RELEASE, out) == []
    entries = read_newc(out.read_bytes())
    data = {n: d for n, _, _, d in entries}
    assert data["modules.order"] == b""
    assert [n for n in data if n.startswith("lib/modules/")] == []
    assert "init" in data and data["bin/busybox"] == b"bb"
