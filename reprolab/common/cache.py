"""The lab's download cache: kernels, guest root filesystems, apt indexes (XDG cache dir)."""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def root():
    """$REPROLAB_CACHE, else $XDG_CACHE_HOME/reprolab, else ~/.cache/reprolab."""
    env = os.environ.get("REPROLAB_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "reprolab"


def folder(*parts):
    path = root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def size(path):
    """Bytes on disk (sparse files count what they use)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def entries(hidden=False):
    """[(relative name, bytes)] for each cached item (one level below each cache kind). Names that
    start with a dot are the cache's own: lock files, and folders a download or unpacking works in
    before it is swapped in (one is left when the lab was killed during it); `hidden` lists only
    those folders."""
    base = root()
    out = []
    if not base.is_dir():
        return out
    for kind in sorted(p for p in base.iterdir() if p.is_dir()):
        for item in sorted(kind.iterdir()):
            own = item.name.startswith(".")
            if (own and item.is_dir()) if hidden else not own:
                out.append((f"{kind.name}/{item.name}", size(item)))
    return out


def remove(name=None):
    """Remove one cached item (as listed by entries()) or, without a name, the whole cache."""
    base = root()
    target = base / name if name else base
    # an absolute name would replace the cache root in `base / name`: never leave the cache
    if name and (Path(name).is_absolute() or ".." in Path(name).parts or not target.exists()):
        return False
    shutil.rmtree(target, ignore_errors=True)
    return True


def sha256_of(path):
    """The sha256 of a file in the cache (a kernel image, a wheel), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def swap_in(new, dest):
    """Put folder `new` at `dest` in one rename, the old `dest` (if any) moved aside first and
    removed after, so that a reader never sees a half-written folder."""
    old = Path(tempfile.mkdtemp(prefix=".old.", dir=Path(dest).parent))
    if Path(dest).exists():
        os.replace(dest, old / "gone")
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)
