"""Run one variant's container to its end: timeout, bounded logs, verdict, and removal in every case."""

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests

from reprolab import forensics, verdict
from reprolab.outcome import Outcome

LOG_LIMIT = 8 * 1024 * 1024  # bytes of output kept in the log file


class EngineLost(Exception):
    """The engine stopped answering in the middle of a variant (restart, crash)."""


@dataclass
class Execution:
    outcome: str
    reason: str = ""
    attempts: int = 0
    evidence: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    exit_code: object = None
    seconds: float = 0.0
    forensics: dict = field(default_factory=dict)


def run_container(client, opts, timeout, log_path, local_engine, on_start=lambda cid: None,
                  creating=contextlib.nullcontext):
    """Create, start and wait for a container; always remove it. Raises only Interrupted/engine loss
    (or what `creating`, the caller's guard around the create call, raises to refuse it)."""
    container = None
    start = time.monotonic()
    try:
        with creating():
            container = create(client, opts)
        on_start(container.id)
        container.start()
        try:
            status = container.wait(timeout=timeout)
            timed_out = False
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
            # docker-py reports its read timeout as either exception; a connection that broke
            # before the timeout is the engine going away, not a hang of the reproducer
            if time.monotonic() - start < timeout - 0.5:
                raise EngineLost(f"the engine connection broke while waiting: {str(exc)[:200]}") from None
            timed_out = True
        seconds = round(time.monotonic() - start, 2)
        if timed_out:
            snap = {"unavailable": "the engine is not on this machine: its pids are not in this /proc"}
            if local_engine:
                container.reload()
                snap = forensics.snapshot(container.attrs.get("State", {}).get("Pid"), container.id)
            _kill(container)
            _save_log(container, log_path)
            return Execution(Outcome.HANG.value, reason=f"no end within the {timeout} s timeout; container killed",
                             seconds=seconds, forensics=snap)
        exit_code = status.get("StatusCode")
        _save_log(container, log_path)
        # The saved log interleaves stdout and stderr, and docker-py's public API drops the frame
        # headers that tell them apart, so the verdict comes from a second, stdout-only pass over the
        # engine's log, read to its end (scan keeps only verdict lines): no tail to fall out of.
        v, why = verdict.scan(container.logs(stdout=True, stderr=False, stream=True, follow=False))
        container.reload()
        state = container.attrs.get("State", {})
        if v is None:
            if state.get("OOMKilled"):
                why = f"killed by the OOM killer (memory limit {opts.get('mem_limit')}); " + why
            elif exit_code:
                why = f"exit code {exit_code}; " + why
            return Execution(Outcome.ERROR.value, reason=why, exit_code=exit_code, seconds=seconds)
        reason = ""
        if v.outcome in ("skipped", "error"):
            reason = str(v.evidence.get("reason", ""))[:500]
        return Execution(v.outcome, reason=reason, attempts=v.attempts, evidence=v.evidence,
                         versions=v.versions, exit_code=exit_code, seconds=seconds)
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except (docker.errors.APIError, requests.exceptions.RequestException):
                pass


def create(client, opts):
    """Create a container from container_options(). `systempaths=unconfined` is a docker CLI option,
    not an API one: the API takes empty MaskedPaths/ReadonlyPaths, which docker-py cannot pass, so
    the host config is built here and completed by hand."""
    opts = dict(opts)
    security = list(opts.pop("security_opt", []))
    unmask = "systempaths=unconfined" in security
    security = [s for s in security if s != "systempaths=unconfined"]
    image, labels, env = opts.pop("image"), opts.pop("labels"), opts.pop("environment", None)
    opts.pop("detach", None)
    network = opts.pop("network_mode")
    cgroupns = opts.pop("cgroupns", None)
    hc = client.api.create_host_config(network_mode=network, security_opt=security or None, **opts)
    if cgroupns:
        hc["CgroupnsMode"] = cgroupns
    if unmask:
        hc["MaskedPaths"] = []
        hc["ReadonlyPaths"] = []
    created = client.api.create_container(image=image, labels=labels, environment=env, host_config=hc,
                                          network_disabled=network == "none")
    return client.containers.get(created["Id"])


def _kill(container):
    try:
        container.kill()
        container.wait(timeout=30)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass


def _save_log(container, log_path):
    """Stream the container's output into the log file, at most LOG_LIMIT bytes."""
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as out:
        try:
            for chunk in container.logs(stdout=True, stderr=True, stream=True, follow=False):
                if written + len(chunk) > LOG_LIMIT:
                    out.write(chunk[: LOG_LIMIT - written])
                    out.write(b"\n[reprolab: log truncated]\n")
                    break
                out.write(chunk)
                written += len(chunk)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            out.write(f"\n[reprolab: log capture failed: {exc}]\n".encode())
