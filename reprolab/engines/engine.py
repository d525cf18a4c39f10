"""Connecting to a Docker engine, and the facts of the host behind it."""

import os
import platform
from pathlib import Path
from urllib.parse import urlsplit

import docker
import requests

from reprolab.common import capabilities, whoami
from reprolab.engines import engine_errors
from reprolab.common.errors import EngineError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
API_TIMEOUT = 900  # seconds; a build step may print nothing for minutes


def connect(url=None):
    """A docker-py client for `url` (or DOCKER_HOST, or the default socket) whose engine answered."""
    where = url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    try:
        client = docker.DockerClient(base_url=url, timeout=API_TIMEOUT) if url else docker.from_env(timeout=API_TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        reason = str(exc).split("\n")[0][:200]
        raise EngineError(f"no Docker engine answers at {where} ({reason}); start one with "
                          f"'sudo bash scripts/setup-host.sh' or point DOCKER_HOST at a running engine") from None
    client.reprolab_url = where
    return client


def is_local(client):
    """Whether the engine runs on this machine, so that its containers' pids are in our /proc."""
    return is_local_url(getattr(client, "reprolab_url", None) or getattr(client.api, "base_url", ""))


def is_local_url(url):
    """True only for a unix socket, as given (unix://) or as docker-py renders one
    (http+docker://localhost, or localunixsocket in older releases). A tcp:// engine may be a port
    forwarded into a VM even on 127.0.0.1, and ssh:// is another machine."""
    parts = urlsplit(url or "")
    if parts.scheme == "unix":
        return True
    return parts.scheme == "http+docker" and parts.hostname in ("localhost", "localunixsocket")


def cgroup_layout(root="/sys/fs/cgroup"):
    """v2 (unified only), hybrid (v1 controllers plus a cgroup2 mount), or v1."""
    root = Path(root)
    if (root / "cgroup.controllers").exists():
        return "v2"
    if (root / "unified").is_dir() and any((root / "unified").iterdir()):
        return "hybrid"
    return "v1"


@engine_errors.stage("reading the host's facts")
def host_facts(client):
    """What a record says about where it ran: kernel, cgroups, engine, runtime, CPUs, distribution."""
    info = client.info()
    version = client.version()
    components = {c.get("Name"): c.get("Version") for c in version.get("Components", [])}
    local = is_local(client)
    facts = {
        "hostname": info.get("Name"),
        "kernel": info.get("KernelVersion"),
        "os": info.get("OperatingSystem"),
        "arch": info.get("Architecture"),
        "cpus": info.get("NCPU"),
        "memory_bytes": info.get("MemTotal"),
        "engine": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "containerd": components.get("containerd"),
        "runc": components.get("runc"),
        "storage_driver": info.get("Driver"),
        "cgroup_driver": info.get("CgroupDriver"),
        "cgroup_version": info.get("CgroupVersion"),
        "engine_url": getattr(client, "reprolab_url", client.api.base_url),
        "local_engine": local,
        # who ran the lab, and so where its root steps (root disks, image disks, debootstrap) were done
        "lab_user": {k: v for k, v in whoami.user().items() if k != "gid"},
        "root_steps": whoami.root_steps(),
    }
    # How `compare --by host` names this engine: the machine's name, or the remote URL's host part.
    facts["host_label"] = facts["hostname"] if local else facts["engine_url"].split("://", 1)[-1].split("@")[-1]
    if local:
        facts["cgroup"] = cgroup_layout()
        mask = capabilities.bounding_set(Path("/proc/self/status").read_text())
        facts["cap_bounding_missing"] = list(capabilities.missing_from(mask)) if mask is not None else None
        facts["lab_python"] = platform.python_version()
    else:
        facts["cgroup"] = "v2" if str(info.get("CgroupVersion")) == "2" else "v1"
        facts["cap_bounding_missing"] = None
    return facts
