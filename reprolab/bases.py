"""Base images: `debian:<suite>` pulled where a registry answers, else made with debootstrap.

The Dockerfiles keep ordinary `FROM debian:<suite>` lines either way; an image made here carries the
label org.reprolab.base.origin=debootstrap (and the mirror it came from is read from the host's apt
sources at run time, never written into the project).
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import docker

from reprolab import labels
from reprolab.engine_errors import boundary, url
from reprolab.errors import EngineError, UserError

ORIGIN_LABEL = labels.BASE_ORIGIN
DEBOOTSTRAP_TIMEOUT = 900  # seconds; REPROLAB_DEBOOTSTRAP_TIMEOUT overrides


@dataclass(frozen=True)
class Base:
    image: str
    available: bool
    origin: str  # present | registry | debootstrap | copied | missing
    reason: str = ""
    id: str = ""  # the engine's image id, once available


def present(client, image):
    try:
        img = client.images.get(image)
    except docker.errors.ImageNotFound:
        return None
    return img


def image_id(client, image):
    img = present(client, image)
    return img.id if img else ""


def try_pull(client, image):
    """'' when `image` was pulled, else why not, in words that name no registry or resolver."""
    repo, _, tag = image.partition(":")
    try:
        client.images.pull(repo, tag=tag or "latest")
        return ""
    except docker.errors.APIError as exc:
        return pull_failure((exc.explanation or str(exc)).strip().split("\n")[0])


def pull_failure(message):
    """A short reason for a failed pull. Records are shared and committed: keep hosts out of them."""
    text = message.lower()
    if any(s in text for s in ("no such host", "dial tcp", "connection refused", "i/o timeout",
                               "network is unreachable", "tls handshake", "timeout")):
        return "no registry answers from this engine"
    if any(s in text for s in ("not found", "manifest unknown", "pull access denied", "repository does not exist")):
        return "the registry has no such image"
    redacted = re.sub(r"https?://\S+", "<registry>", message)
    return re.sub(r"\b[\w-]+(\.[\w-]+)+(:\d+)?\b", "<host>", redacted)[:200]


def ensure_image(client, image):
    """A registry-only image: present, pulled, or missing with the reason (raises only EngineError)."""
    with boundary(f"making sure of the base image {image}", url(client)):
        return _ensure_image(client, image)


def _ensure_image(client, image):
    if present(client, image):
        return Base(image, True, "present")
    reason = try_pull(client, image)
    if not reason:
        return Base(image, True, "registry")
    return Base(image, False, "missing", f"base image {image} is not on the engine and cannot be pulled ({reason})")


def ensure_suite(client, suite, progress=lambda msg: None, local=True, source=None):
    """debian:<suite>: present, pulled, copied from the `source` engine, or made with debootstrap."""
    with boundary(f"making sure of the base image debian:{suite}", url(client)):
        return _ensure_suite(client, suite, progress, local, source)


def _ensure_suite(client, suite, progress, local, source):
    image = f"debian:{suite}"
    img = present(client, image)
    if img:
        return Base(image, True, img.labels.get(ORIGIN_LABEL, "present") if img.labels else "present")
    progress(f"base {image}: not present; trying the registry")
    reason = try_pull(client, image)
    if not reason:
        return Base(image, True, "registry")
    if not local:
        src = present(source, image) if source is not None else None
        if src is None:
            return Base(image, False, "missing", f"{image} cannot be pulled ({reason}) and is not on the local "
                                                 f"engine to copy; run 'lab.py base {suite}' locally first")
        progress(f"base {image}: copying from the local engine")
        with boundary(f"copying {image} from the local engine {url(source)}", url(client)):
            client.images.load(b"".join(src.save(named=True)))
        return Base(image, True, "copied")
    progress(f"base {image}: registry unreachable ({reason}); building with debootstrap (about 30 s)")
    debootstrap(client, suite, progress)
    return Base(image, True, "debootstrap")


def ensure_for(client, recipes, progress=lambda msg: None, local=True, source=None):
    """{base image: Base with its id} for the bases of `recipes`, each made sure of once."""
    out = {}
    for recipe in sorted(recipes, key=lambda r: (not r.suite, r.base)):
        if recipe.base in out:
            continue
        base = (ensure_suite(client, recipe.suite, progress, local=local, source=source) if recipe.suite
                else ensure_image(client, recipe.base))
        with boundary(f"looking up the base image {recipe.base}", url(client)):
            out[recipe.base] = replace(base, id=image_id(client, recipe.base)) if base.available else base
    return out


def mirrors(sources_dir="/etc/apt"):
    """(archive URL, security URL or '') for Debian, from REPROLAB_MIRROR or the host's apt sources."""
    env = os.environ.get("REPROLAB_MIRROR", "")
    entries = []
    root = Path(sources_dir)
    for path in sorted(root.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if fields.get("Types", "deb").split()[0] == "deb" and "URIs" in fields:
                entries.append((fields["URIs"].split()[0], fields.get("Suites", "")))
    for path in [root / "sources.list"] + sorted(root.glob("sources.list.d/*.list")):
        if path.is_file():
            for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", path.read_text(), re.M):
                entries.append((m.group(1), m.group(2)))
    debian = [(u, s) for u, s in entries if re.search(r"/debian/?$", u)]
    security = [u for u, s in entries if "security" in s or u.rstrip("/").endswith("debian-security")]
    archive = env or next((u for u, s in debian if "security" not in s), "")
    if not archive:
        raise UserError("no Debian mirror found in the host's apt sources; set REPROLAB_MIRROR to a Debian mirror URL")
    return archive, (security[0] if security else "")


def sources_list(suite, archive, security):
    lines = [f"deb {archive} {suite} main", f"deb {archive} {suite}-updates main"]
    if security:
        lines.append(f"deb {security} {suite}-security main")
    return "\n".join(lines) + "\n"


def debootstrap_timeout():
    text = os.environ.get("REPROLAB_DEBOOTSTRAP_TIMEOUT", str(DEBOOTSTRAP_TIMEOUT))
    try:
        value = float(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"REPROLAB_DEBOOTSTRAP_TIMEOUT={text!r}: not a positive number of seconds")
    return value


def debootstrap(client, suite, progress=lambda msg: None, timeout=None, workdir="/var/tmp"):
    """Make debian:<suite> with debootstrap, bounded by `timeout` seconds (default: debootstrap_timeout())."""
    if not shutil.which("debootstrap"):
        raise EngineError("debootstrap is not installed; run 'sudo bash scripts/setup-host.sh'")
    if os.geteuid() != 0:
        raise UserError("making a base image with debootstrap needs root; run as root or provide debian:" + suite)
    timeout = timeout or debootstrap_timeout()
    archive, security = mirrors()
    with tempfile.TemporaryDirectory(prefix=f"reprolab-{suite}-", dir=workdir) as tmp:
        try:
            root = Path(tmp) / "rootfs"
            code, tail = _bounded(["debootstrap", "--variant=minbase", suite, str(root), archive], timeout)
            if code is None:
                raise EngineError(f"debootstrap {suite} timed out after {timeout:g} s; its last line: "
                                  f"{tail[-1] if tail else '(none)'}; try again, or set REPROLAB_DEBOOTSTRAP_TIMEOUT "
                                  f"higher for a slow mirror")
            if code != 0:
                raise EngineError(f"debootstrap {suite} failed: {' | '.join(tail[-3:])}")
            _import_rootfs(client, suite, root, Path(tmp) / "rootfs.tar", archive, security, progress)
        finally:
            _unmount_under(tmp)  # a killed debootstrap leaves /proc and /sys mounted in its root


def _bounded(argv, timeout):
    """Run `argv` in a process group of its own: (exit code, last output lines); code None when it
    outlived `timeout` and its whole group was killed."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    tail = collections.deque(maxlen=20)
    reader = threading.Thread(target=lambda: tail.extend(line.rstrip() for line in proc.stdout), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if proc.poll() is None:  # timed out, or interrupted while waiting
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        reader.join(5)
    return code, [line for line in tail if line]


def _unmount_under(path):
    prefix = os.path.realpath(path) + "/"
    try:
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return
    for point in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _import_rootfs(client, suite, root, tarball, archive, security, progress):
    (root / "etc/apt/sources.list").write_text(sources_list(suite, archive, security))
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    progress(f"base debian:{suite}: importing")
    with boundary(f"importing the debootstrapped debian:{suite}", url(client)):
        client.api.import_image_from_file(
            str(tarball), repository="debian", tag=suite,
            changes=['CMD ["/bin/bash"]', f"LABEL {ORIGIN_LABEL}=debootstrap {labels.BASE_SUITE}={suite}"])
