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
import time
from dataclasses import dataclass, replace
from pathlib import Path

import docker

from reprolab.common import heartbeat, labels, tool, whoami
from reprolab.common.aptsources import mirrors  # noqa: F401 - bases.mirrors, as before
from reprolab.engines.engine_errors import boundary, url
from reprolab.common.errors import EngineError, UserError

ORIGIN_LABEL = labels.BASE_ORIGIN
DEBOOTSTRAP_TIMEOUT = 900  # seconds; REPROLAB_DEBOOTSTRAP_TIMEOUT overrides
# One rootfs import into the engine at a time: each writes a 200 MB layer, and two at once only
# compete for the same disk (the debootstraps before them are what runs in parallel).
_IMPORTS = threading.Lock()


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


def ensure_suite(client, suite, progress=lambda msg: None, local=True, source=None, cancel=None):
    """debian:<suite>: present, pulled, copied from the `source` engine, or made with debootstrap
    (stopped early when the `cancel` event is set)."""
    with boundary(f"making sure of the base image debian:{suite}", url(client)):
        return _ensure_suite(client, suite, progress, local, source, cancel)


def _ensure_suite(client, suite, progress, local, source, cancel=None):
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
    debootstrap(client, suite, progress, cancel=cancel)
    return Base(image, True, "debootstrap")


def ensure_for(client, recipes, progress=lambda msg: None, local=True, source=None):
    """{base image: Base with its id} for the bases of `recipes`, each made sure of once.

    The bases are made sure of at once, each on a thread of its own: on a cold machine the three
    debootstraps (separate processes, mostly waiting on the mirror and the disk) take the time of the
    slowest rather than the sum. Each keeps its own engine-error boundary and timeout; the first
    failure (in the order of the bases) is raised once all have ended. An interrupt stops them all.
    """
    wanted = {}
    for recipe in sorted(recipes, key=lambda r: (not r.suite, r.base)):
        wanted.setdefault(recipe.base, recipe)
    cancel = threading.Event()
    done = {}

    def one(recipe):
        try:
            base = (ensure_suite(client, recipe.suite, progress, local=local, source=source, cancel=cancel)
                    if recipe.suite else ensure_image(client, recipe.base))
            with boundary(f"looking up the base image {recipe.base}", url(client)):
                done[recipe.base] = replace(base, id=image_id(client, recipe.base)) if base.available else base
        except BaseException as exc:  # raised in the caller's thread below
            done[recipe.base] = exc

    if len(wanted) <= 1:
        for recipe in wanted.values():
            one(recipe)
    else:
        threads = [threading.Thread(target=one, args=(r,), name=f"base {b}", daemon=True) for b, r in wanted.items()]
        for th in threads:
            th.start()
        try:
            for th in threads:
                while th.is_alive():
                    th.join(0.2)  # short joins keep the main thread responsive to signals
        except BaseException:
            cancel.set()  # each debootstrap kills its process group and unmounts its root
            for th in threads:
                th.join(30)
            raise
    for b in wanted:
        if isinstance(done[b], BaseException):
            raise done[b]
    return {b: done[b] for b in wanted}


_Wanted = collections.namedtuple("_Wanted", "suite base")


def ensure_suites(client, suites, progress=lambda msg: None, local=True):
    """{suite: Base} of debian:<suite> for each of `suites`, made sure of at once (ensure_for)."""
    got = ensure_for(client, [_Wanted(s, f"debian:{s}") for s in suites], progress, local=local)
    return {s: got[f"debian:{s}"] for s in suites}


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


def debootstrap(client, suite, progress=lambda msg: None, timeout=None, workdir="/var/tmp", cancel=None):
    """Make debian:<suite> with debootstrap, bounded by `timeout` seconds (default: debootstrap_timeout());
    a set `cancel` event stops it as an interrupt would."""
    with heartbeat.activity(progress, f"making debian:{suite} with debootstrap") as act:
        _debootstrap(client, suite, act, timeout, workdir, cancel)


def _debootstrap(client, suite, act, timeout, workdir, cancel):
    debootstrap_bin = tool.require("debootstrap", f"making debian:{suite}")
    timeout = timeout or debootstrap_timeout()
    archive, security = mirrors()
    if not whoami.as_root():
        _debootstrap_in_container(client, suite, act, timeout, workdir, cancel, archive, security)
        return
    with tempfile.TemporaryDirectory(prefix=f"reprolab-{suite}-", dir=workdir) as tmp:
        try:
            root = Path(tmp) / "rootfs"
            code, tail = _bounded([debootstrap_bin, "--variant=minbase", suite, str(root), archive], timeout,
                                  cancel=cancel, on_line=act.detail)
            if cancel is not None and cancel.is_set():
                raise EngineError(f"debootstrap {suite} was stopped: the run is stopping")
            if code is None:
                raise EngineError(f"debootstrap {suite} timed out after {timeout:g} s; its last line: "
                                  f"{tail[-1] if tail else '(none)'}; try again, or set REPROLAB_DEBOOTSTRAP_TIMEOUT "
                                  f"higher for a slow mirror")
            if code != 0:
                raise EngineError(f"debootstrap {suite} failed: {' | '.join(tail[-3:])}")
            act.detail("packing its root")
            _import_rootfs(client, suite, root, Path(tmp) / "rootfs.tar", archive, security, act)
        finally:
            _unmount_under(tmp)  # a killed debootstrap leaves /proc and /sys mounted in its root


def _debootstrap_in_container(client, suite, act, timeout, workdir, cancel, archive, security):
    """A user's lab: the same debootstrap and edits as root in a container on the engine
    (rootstep.py); only the root's tarball reaches the user's folder, then the engine imports it."""
    from reprolab.engines import rootstep
    with tempfile.TemporaryDirectory(prefix=f"reprolab-{suite}-", dir=workdir) as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        out.mkdir()
        (src / "sources.list").write_text(sources_list(suite, archive, security))
        script = "\n".join([
            f"debootstrap --variant=minbase {suite} /tree \"$REPROLAB_MIRROR\"",
            "cp /in/sources.list /tree/etc/apt/sources.list",
            "rm -rf /tree/var/lib/apt/lists /tree/var/cache/apt/archives",
            "mkdir -p /tree/var/lib/apt/lists/partial /tree/var/cache/apt/archives/partial",
            "echo 'packing its root'",
            "tar -C /tree -cf /out/rootfs.tar .",
        ])
        with rootstep.Step(client, f"debootstrap of debian:{suite}", script, out=out, network="host",
                           binds={src: ("/in", "ro")}, env={"REPROLAB_MIRROR": archive}, on_line=act.detail) as step:
            step.wait(timeout, cancel)
        _import_tarball(client, suite, out / "rootfs.tar", act)


def _bounded(argv, timeout, cancel=None, on_line=lambda line: None):
    """Run `argv` in a process group of its own: (exit code, last output lines); code None when it
    outlived `timeout`, or `cancel` was set, and its whole group was killed. `on_line` sees each
    output line as it comes (how far along it is)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    tail = collections.deque(maxlen=20)

    def read():
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if line:
                on_line(line[:120])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    code = None
    try:
        while code is None and time.monotonic() < deadline and not (cancel is not None and cancel.is_set()):
            try:
                code = proc.wait(min(0.5, max(0.01, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                pass
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


def _import_rootfs(client, suite, root, tarball, archive, security, act):
    (root / "etc/apt/sources.list").write_text(sources_list(suite, archive, security))
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    _import_tarball(client, suite, tarball, act)


def _import_tarball(client, suite, tarball, act):
    act.detail("waiting for the engine to import another base")
    with _IMPORTS, boundary(f"importing the debootstrapped debian:{suite}", url(client)):
        act.say(f"base debian:{suite}: importing")
        act.detail("importing into the engine")
        client.api.import_image_from_file(
            str(tarball), repository="debian", tag=suite,
            changes=['CMD ["/bin/bash"]', f"LABEL {ORIGIN_LABEL}=debootstrap {labels.BASE_SUITE}={suite}"])
