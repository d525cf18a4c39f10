"""Steps that need root, for a lab that runs as a user of the Docker engine.

A user in the `docker` group already holds root's power through the engine; making a root
filesystem (debootstrap), running a private dockerd, or writing an ext4 image whose files belong
to root then runs as root in a container on that engine, with the host's own tools: the container's
image is a handful of directories and symlinks, and the host's /usr and /etc are bind-mounted into
it read-only, so the tools are exactly the ones root would run on the host.

Every such container is labelled with the step and its owner (ownership.py), so `clean` removes it
once its owner is gone, and it dies with its owner: its stdin is the lab's attach connection, and a
watcher inside ends the step when that closes (a lab killed with -9 closes it too). A step writes
only into its output folder (`/out`), a folder of the user's: on success everything there is given
to the user, on failure it is emptied. Intermediate trees live in the container's own layer or its
anonymous volume and go with the container; nothing owned by root is left in the user's cache.
"""

import hashlib
import io
import os
import re
import tarfile
import threading
import time
from pathlib import Path

import docker
import requests

from reprolab.common import capabilities, labels, whoami
from reprolab.common.errors import EngineError, UserError
from reprolab.engines import engine, ownership

TOOLS_REPO = "reprolab/host-tools"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Top-level folders of the host that hold programs: a symlink on a merged-/usr host (Debian 12),
# else bind-mounted like /usr.
PROGRAM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
STOP_SECONDS = 20  # for a stopped step to clean its output folder before its container is removed

# pid 1 of a step's container: runs the step, ends it when the lab's attach connection closes, then
# hands /out to the user (success) or empties it (failure).
WRAPPER = r"""
exec 3<&0
sh -ec "$REPROLAB_STEP" </dev/null &
step=$!
{ cat <&3 >/dev/null; echo "reprolab: the lab that started this step is gone; stopping it" >&2; kill -9 -1; } &
wait $step
code=$?
if [ -d /out ]; then
  if [ $code -eq 0 ]; then chown -R "$REPROLAB_OWNER" /out; else find /out -mindepth 1 -delete; fi
fi
exit $code
"""


def needed():
    """Whether the lab runs as a user, so that its root steps go through the engine."""
    return not whoami.as_root()


def tools_spec(root="/"):
    """([(name, symlink target)] for the image, [host folders to bind read-only]) (pure on `root`)."""
    links, binds = [], ["/usr", "/etc"]
    for name in PROGRAM_DIRS:
        path = Path(root) / name
        if path.is_symlink():
            links.append((name, os.readlink(path)))
        elif path.is_dir():
            binds.append(f"/{name}")
    return links, binds


def tools_tar(links):
    """The image's whole file system: empty folders and the program symlinks (pure)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, mode in (("usr", 0o755), ("etc", 0o755), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755),
                           ("run", 0o755), ("tmp", 0o1777), ("var", 0o755), ("var/tmp", 0o1777), ("root", 0o700),
                           ("out", 0o755), ("in", 0o755), ("data", 0o755)):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 0
            tar.addfile(info)
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 0
            tar.addfile(info)
    return buf.getvalue()


def tools_image(client):
    """The tag of the host-tools image on `client`, imported on first use (a few KiB)."""
    links, _ = tools_spec()
    data = tools_tar(links)
    tag = f"{TOOLS_REPO}:{hashlib.sha256(data).hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    repo, _, version = tag.partition(":")
    client.api.import_image_from_data(data, repository=repo, tag=version,
                                      changes=[f"ENV PATH={PATH}", f"LABEL {labels.TOOLS}=1"])
    return tag


def check_engine(client, what):
    """UserError when root steps cannot go through this engine: it must be this machine's (the
    step binds this machine's folders) and its root must be root (no user-namespace remapping)."""
    if not engine.is_local(client):
        raise UserError(f"{what} needs root; the lab runs as a user, so it does it in a container, which needs "
                        f"this machine's engine (a unix socket), not {getattr(client, 'reprolab_url', '?')}: "
                        f"unset DOCKER_HOST, or run the lab as root")
    security = " ".join(client.info().get("SecurityOptions") or [])
    if "userns" in security:
        raise UserError(f"{what} needs root; this engine remaps root (userns-remap), so its containers cannot "
                        f"make root-owned files: run the lab as root once for it")


def privileged_options(status=None):
    """The explicit settings of privileged mode (privilege.py): every grantable capability."""
    status = Path("/proc/self/status").read_text() if status is None else status
    mask = capabilities.bounding_set(status)
    drop = sorted(capabilities.missing_from(mask)) if mask is not None else []
    opts = {"cap_add": ["ALL"], "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
            "device_cgroup_rules": ["a *:* rwm"]}
    if drop:
        opts["cap_drop"] = drop
    return opts


class Step:
    """One root step in a container; a context manager that always removes it.

    `out` is the user's folder the step writes into (/out in the container); `binds` maps more host
    folders to container paths ({host: (path, 'ro'|'rw')}); `network` is 'none' or 'host' (the
    mirror reached as the host reaches it); `volume` a container path given an anonymous volume
    (a file system that is not overlayfs, for a dockerd's data root); `env` more variables."""

    def __init__(self, client, what, script, out=None, binds=None, network="none", volume=None, env=None,
                 on_line=lambda line: None):
        self.client, self.what, self.script = client, what, script
        self.out, self.binds, self.network, self.volume = out, dict(binds or {}), network, volume
        self.env, self.on_line = dict(env or {}), on_line
        self.cid, self.sock, self.lines = None, None, []
        self.reader = None

    def __enter__(self):
        check_engine(self.client, self.what)
        api = self.client.api
        _, program_binds = tools_spec()
        binds = {p: {"bind": p, "mode": "ro"} for p in program_binds}
        if self.out is not None:
            binds[str(self.out)] = {"bind": "/out", "mode": "rw"}
        for host, (path, mode) in self.binds.items():
            binds[str(host)] = {"bind": path, "mode": mode}
        host_config = api.create_host_config(
            binds=binds, network_mode=self.network, log_config={"type": "json-file", "config": {"max-size": "20m"}},
            **privileged_options())
        # systempaths=unconfined and a private cgroupns are CLI options docker-py cannot pass (execute.create)
        host_config.update(MaskedPaths=[], ReadonlyPaths=[], CgroupnsMode="private")
        env = {"REPROLAB_STEP": self.script, "REPROLAB_OWNER": f"{os.getuid()}:{os.getgid()}", "LC_ALL": "C",
               **{k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")},
               **self.env}
        try:
            self.cid = api.create_container(
                tools_image(self.client), ["/bin/sh", "-c", WRAPPER], environment=env, host_config=host_config,
                volumes=[self.volume] if self.volume else None, stdin_open=True,  # and StdinOnce
                labels={labels.ROOTSTEP: self.what, **ownership.owner_labels()})["Id"]
            # the attach connection is the step's lifeline: when it closes, the step ends
            self.sock = api.attach_socket(self.cid, params={"stdin": 1, "stream": 1})
            api.start(self.cid)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            self._remove()
            raise EngineError(f"{self.what}: the engine refused its container: {str(exc).splitlines()[0][:300]}") from None
        self.reader = threading.Thread(target=self._follow, daemon=True)
        self.reader.start()
        return self

    def _follow(self):
        try:
            for chunk in self.client.api.logs(self.cid, stream=True, follow=True):
                for line in chunk.decode(errors="replace").splitlines():
                    self.lines.append(line)
                    del self.lines[:-40]
                    if line.strip():
                        self.on_line(line.strip()[:120])
        except (docker.errors.APIError, requests.exceptions.RequestException, ValueError):
            pass

    def wait(self, timeout, cancel=None):
        """Wait for the step to end; EngineError with its last lines unless it exited 0 (or when the
        `cancel` event is set: the run is stopping)."""
        deadline = time.monotonic() + timeout
        code = None
        while code is None:
            if cancel is not None and cancel.is_set():
                raise EngineError(f"{self.what} was stopped: the run is stopping")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EngineError(f"{self.what} did not finish within {timeout:g} s; its last line: "
                                  f"{self.tail(1) or '(none)'}")
            try:
                code = self.client.api.wait(self.cid, timeout=min(5, left)).get("StatusCode")
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                continue  # the wait's read timed out: the step is still going
        if self.reader is not None:
            self.reader.join(5)
        if code != 0:
            # a mirror's host never goes into records or logs (tool.run's redact)
            tail = re.sub(r"https?://\S+", "<mirror>", self.tail(3))
            raise EngineError(f"{self.what} failed (exit {code}): {tail[:400]}")
        return "\n".join(self.lines)

    def running(self):
        try:
            return self.client.api.inspect_container(self.cid)["State"]["Running"]
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return False

    def tail(self, n):
        """The last `n` lines it printed, on one line."""
        return " | ".join([line.strip() for line in self.lines if line.strip()][-n:])

    def __exit__(self, *exc):
        self._remove()
        return False

    def _remove(self):
        if self.cid is None:
            return
        api = self.client.api
        if self.sock is not None:
            raw = getattr(self.sock, "_sock", None)
            try:  # a step still going sees its stdin end, stops and empties /out
                self.sock.close()
                if raw is not None:
                    raw.close()
            except OSError:
                pass
            try:
                api.wait(self.cid, timeout=STOP_SECONDS)
            except (docker.errors.APIError, requests.exceptions.RequestException):
                pass
        try:
            api.remove_container(self.cid, force=True, v=True)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass  # `clean` finds it by its labels
        self.cid = None


def run(client, what, script, timeout, **kwargs):
    """Run one root step to its end (Step's arguments); its output."""
    with Step(client, what, script, **kwargs) as step:
        return step.wait(timeout)
