"""Where bundles go: a folder per bundle, or one .tar.gz; never over an existing path unless forced,
and even then only over a bundle (a folder with a bundle's SHA256SUMS and run.sh) or a file."""

import os
import shutil
import tempfile
from pathlib import Path

from reprolab.common.errors import UserError
from reprolab.exports import bundle as lab_bundle

SUFFIX = ".tar.gz"


def plan(out, bundles):
    """[(path, bundle, as_tar)] of where each bundle goes. `out`: -o (None: ./<bundle name>), a
    folder (one bundle: the bundle itself; several: one folder each inside), or FILE.tar.gz (one)."""
    if not bundles:
        raise UserError("nothing to export")
    if out is not None and str(out).endswith(SUFFIX):
        if len(bundles) > 1:
            raise UserError(f"-o {out}: {len(bundles)} variants selected, a .tar.gz holds one; "
                            f"give -o DIR (a folder each) or select one variant")
        return [(Path(out), bundles[0], True)]
    if len(bundles) == 1:
        return [(Path(out) if out is not None else Path.cwd() / bundles[0].name, bundles[0], False)]
    if out is None:
        raise UserError(f"{len(bundles)} variants selected ({', '.join(b.name for b in bundles[:3])}"
                        f"{', …' if len(bundles) > 3 else ''}); give -o DIR to write a folder each, or "
                        f"select one variant (SCENARIO:VARIANT --suite S)")
    if os.path.lexists(out) and not Path(out).is_dir():
        raise UserError(f"-o {out}: exists and is not a folder; {len(bundles)} variants need a folder "
                        f"to hold a bundle each")
    return [(Path(out) / b.name, b, False) for b in bundles]


def check(places, force):
    """Refuse, before anything is written, a path that exists (without force) or that is not a bundle."""
    for path, _, as_tar in places:
        above = next((p for p in path.parents if os.path.lexists(p)), None)
        if above is not None and not above.is_dir():
            raise UserError(f"{path}: {above} is not a folder; choose another -o")
        if not os.path.lexists(path):
            continue
        if not force:
            raise UserError(f"{path}: exists; choose another -o, or --force to replace it")
        if as_tar and not (path.is_file() and not path.is_symlink()):
            raise UserError(f"{path}: exists and is not a file; --force replaces only a bundle")
        if not as_tar and not _is_bundle(path):
            raise UserError(f"{path}: exists and is not a bundle (no run.sh and SHA256SUMS); --force "
                            f"replaces only a bundle; choose another -o")


def _is_bundle(path):
    return path.is_dir() and not path.is_symlink() and (path / "run.sh").is_file() and \
        (path / "SHA256SUMS").is_file()


def write(places, force=False):
    """Write each bundle; returns the paths. A replaced bundle is swapped in whole, never mixed."""
    check(places, force)
    written = []
    for path, b, as_tar in places:
        try:
            _write_one(path, b, as_tar)
        except OSError as exc:
            raise UserError(f"{path}: cannot write the bundle: {exc.strerror or exc}") from None
        written.append(path)
    return written


def _write_one(path, b, as_tar):
    path.parent.mkdir(parents=True, exist_ok=True)
    if as_tar:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b.tar_gz())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-bundle-", dir=path.parent))
        try:
            write_folder(b, tmp)
            if os.path.lexists(path):
                old = Path(tempfile.mkdtemp(prefix=".old-bundle-", dir=path.parent))
                os.replace(path, old / "bundle")
                os.replace(tmp, path)
                shutil.rmtree(old)
            else:
                os.replace(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)


def write_folder(b, root):
    """The bundle's files under `root`, with their modes and the tar's fixed times."""
    root = Path(root)
    os.chmod(root, 0o755)
    dirs = set()
    for rel, data, mode in b.files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        dirs.update(p.parents)
        p.write_bytes(data)
        os.chmod(p, mode)
        os.utime(p, (lab_bundle.MTIME, lab_bundle.MTIME))
    for d in sorted(d for d in dirs if root in d.parents or d == root):
        os.chmod(d, 0o755)
        os.utime(d, (lab_bundle.MTIME, lab_bundle.MTIME))
