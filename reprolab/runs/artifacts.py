"""Files a reproducer leaves in its declared artifacts folder, copied out before its container is
removed (after a timeout too) into the run's logs.

The archive comes from inside a container the lab does not trust, so only regular files and
folders are written, only under the destination, and at most LIMIT bytes in all; whatever is left
out is listed with the reason.
"""

import tarfile
import tempfile
from pathlib import Path, PurePosixPath

import docker
import requests

LIMIT = 64 * 1024 * 1024  # bytes of artifacts kept per variant run


def copy_out(container, path, dest, limit=LIMIT):
    """Copy folder `path` of a (stopped) container into `dest`; a summary for the record."""
    try:
        bits, _ = container.get_archive(path)
        with tempfile.TemporaryFile() as tmp:
            size = 0
            for chunk in bits:
                size += len(chunk)
                if size > limit + 1024 * 1024:  # tar headers and padding beyond the files' bytes
                    break
                tmp.write(chunk)
            tmp.seek(0)
            return extract(tmp, dest, limit)
    except docker.errors.NotFound:
        return {"files": [], "missing": f"{path} does not exist in the container any more"}
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        return {"files": [], "missing": f"copying {path} out failed: {str(exc).splitlines()[0][:200]}"}


def extract(fileobj, dest, limit=LIMIT):
    """Write the regular files and folders of the tar `fileobj` (the folder itself its first
    component, as the engine sends it) under `dest`. Returns {"files": [...], "skipped": [...]}."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    files, skipped, total = [], [], 0
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|")
        for member in tar:
            parts = PurePosixPath(member.name).parts[1:]
            rel = "/".join(parts)
            if not parts:
                continue
            if any(p in ("..", "") for p in parts) or PurePosixPath(member.name).is_absolute():
                skipped.append(f"{member.name}: a path leaving the folder")
                continue
            target = dest.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                if total + member.size > limit:
                    skipped.append(f"{rel}: over the limit of {_size(limit)} of artifacts")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as out:
                    while chunk := src.read(1024 * 1024):
                        out.write(chunk)
                total += member.size
                files.append(rel)
            else:
                skipped.append(f"{rel}: not a regular file")
    except tarfile.TarError as exc:
        skipped.append(f"the archive ends early: {exc}")
    out = {"files": sorted(files), "bytes": total}
    if skipped:
        out["skipped"] = skipped
    return out


def _size(n):
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"
