"""Run one variant's container to its end: timeout, bounded logs, verdict, and removal in every case."""

import contextlib
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests

from reprolab.runs import artifacts as lab_artifacts, forensics, reading, verdict
from reprolab.common.outcome import Outcome
from reprolab.scenarios import readrule

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
    verdict_by: str = "reproducer"  # "reproducer": its REPROLAB-RESULT line; "lab": a read rule
    rule: str = ""  # the part of the read rule that decided
    artifacts: dict = None  # what was copied out of the declared artifacts folder


def run_container(client, opts, timeout, log_path, local_engine, on_start=lambda cid: None,
                  creating=contextlib.nullcontext, read=None, artifacts=None, on_leftover=lambda cid: None):
    """Create, start and wait for a container; always remove it. Raises only Interrupted/engine loss
    (or what `creating`, the caller's guard around the create call, raises to refuse it).
    `read`: a reading.Rule to read a reproducer that prints no verdict line. `artifacts`:
    (folder in the container, destination folder) to copy out before removal, however it ended.
    `on_leftover` gets the id of a container that could not be removed (the engine went away)."""
    container = None
    start = time.monotonic()
    try:
        with creating():
            container = create(client, opts)
        on_start(container.id)
        container.start()
        reader, stopped = None, False
        compare = isinstance(read, readrule.Compare)
        if read is None or compare:  # a compare rule reads the whole output, once it has ended
            status, timed_out = _wait(container, timeout, start)
        else:
            reader = reading.Reader(read)
            status, timed_out, stopped = _wait_reading(container, timeout, start, reader)
        seconds = round(time.monotonic() - start, 2)
        if timed_out:
            snap = {"unavailable": "the engine is not on this machine: its pids are not in this /proc"}
            if local_engine:
                container.reload()
                snap = forensics.snapshot(container.attrs.get("State", {}).get("Pid"), container.id)
            _kill(container)
            _save_log(container, log_path)
            return Execution(Outcome.HANG.value, reason=f"no end within the {timeout} s timeout; container killed",
                             seconds=seconds, forensics=snap, artifacts=_artifacts(container, artifacts))
        exit_code = (status or {}).get("StatusCode")
        streams = reading.Streams(read.source) if compare and not read.file else None
        v, why = _read_output(client, container, log_path, sink=streams.push if streams else None)
        copied = _artifacts(container, artifacts)
        state = _State(container)  # inspected only when an outcome needs it (OOM): one call fewer
        if v is None and compare and why == verdict.NO_VERDICT:
            d = _compare(read, streams, artifacts, exit_code, state.oom())
            _note(log_path, f"lab verdict: {d.outcome}, decided by read.{d.rule} ({read.describe()})")
            return Execution(d.outcome, reason=d.reason, attempts=d.attempts,
                             evidence={**dict(d.evidence), "rule": f"read.{d.rule}"}, exit_code=exit_code,
                             seconds=seconds, verdict_by="lab", rule=f"read.{d.rule}", artifacts=copied)
        if v is None and reader is not None and why == verdict.NO_VERDICT:
            d = reader.decide(exit_code, seconds, stopped=stopped, oom=state.oom())
            _note(log_path, f"lab verdict: {d.outcome}, decided by read.{d.rule} ({read.describe()})")
            return Execution(d.outcome, reason=d.reason, attempts=reader.attempts if read.attempt else 1,
                             evidence={**dict(d.evidence), "rule": f"read.{d.rule}"}, exit_code=exit_code,
                             seconds=seconds, verdict_by="lab", rule=f"read.{d.rule}", artifacts=copied)
        if v is None:
            if state.oom():
                why = f"killed by the OOM killer (memory limit {opts.get('mem_limit')}); " + why
            elif exit_code:
                why = f"exit code {exit_code}; " + why
            return Execution(Outcome.ERROR.value, reason=why, exit_code=exit_code, seconds=seconds, artifacts=copied)
        reason = ""
        if v.outcome in ("skipped", "error"):
            reason = str(v.evidence.get("reason", ""))[:500]
        # with a read rule declared, the record still says what decided: the reproducer's own line
        return Execution(v.outcome, reason=reason, attempts=v.attempts, evidence=v.evidence,
                         versions=v.versions, exit_code=exit_code, seconds=seconds,
                         rule="" if reader is None else "its REPROLAB-RESULT line", artifacts=copied)
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except (docker.errors.APIError, requests.exceptions.RequestException):
                on_leftover(container.id)


def _compare(rule, streams, artifacts, exit_code, oom):
    """A compare rule's decision, from the output's lines or from the artifacts file it names."""
    if streams is not None:
        return reading.decide_compare(rule, streams.close(), exit_code, oom=oom, cut=streams.cut)
    path = Path(artifacts[1]) / rule.file if artifacts else None
    if path is None or not path.is_file():
        return reading.Decision("error", "compare.none", reason=f"the reproducer wrote no artifacts file {rule.file} "
                                                                f"(in {artifacts[0] if artifacts else 'run.artifacts'})",
                                evidence=(("exit_status", exit_code),))
    lines, cut = reading.file_lines(path)
    return reading.decide_compare(rule, lines, exit_code, oom=oom, cut=cut)


class _State:
    """The container's State, inspected on first use."""

    def __init__(self, container):
        self.container, self.state = container, None

    def oom(self):
        if self.state is None:
            self.container.reload()
            self.state = self.container.attrs.get("State", {})
        return bool(self.state.get("OOMKilled"))


def _artifacts(container, artifacts):
    if not artifacts:
        return None
    folder, dest = artifacts
    return lab_artifacts.copy_out(container, folder, dest)


def _wait(container, timeout, start):
    """(status, timed_out) of a container left to end by itself within `timeout` seconds."""
    try:
        return container.wait(timeout=timeout), False
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
        # docker-py reports its read timeout as either exception; a connection that broke
        # before the timeout is the engine going away, not a hang of the reproducer
        if time.monotonic() - start < timeout - 0.5:
            raise EngineLost(f"the engine connection broke while waiting: {str(exc)[:200]}") from None
        return None, True


def _wait_reading(container, timeout, start, reader):
    """(status, timed_out, stopped) of a container whose output `reader` reads as it comes. The lab
    stops the reproducer once the outcome is settled (a match, enough attempts) or its exposure
    time has passed; it is a hang only when the timeout comes first."""
    lock, ended, result = threading.Lock(), threading.Event(), {}

    def follow(stream):
        lines = reading.Lines()
        try:
            for chunk in container.logs(stdout=stream == "stdout", stderr=stream == "stderr", stream=True, follow=True):
                got = lines.push(chunk)
                with lock:
                    for line in got:
                        reader.feed(stream, line)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass  # the saved log and the engine's state still tell what happened
        with lock:
            for line in lines.close():
                reader.feed(stream, line)

    def wait():
        try:
            result["status"] = container.wait(timeout=timeout + 60)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            result["error"] = exc
        ended.set()

    readers = [threading.Thread(target=follow, args=(s,), daemon=True) for s in ("stdout", "stderr")]
    for th in readers + [threading.Thread(target=wait, daemon=True)]:
        th.start()
    stopped = timed_out = False
    while not ended.wait(0.2):
        elapsed = time.monotonic() - start
        with lock:
            settled = reader.settled() or reader.exposed(elapsed)
        if settled:
            stopped = True
            break
        if elapsed >= timeout:
            timed_out = True
            break
    if stopped:
        _kill(container)
        ended.wait(30)
    if "error" in result and not timed_out and not stopped:
        raise EngineLost(f"the engine connection broke while waiting: {str(result['error'])[:200]}")
    if not timed_out:
        for th in readers:
            th.join(30)  # the streams end with the container; what they carry must be read first
    return result.get("status"), timed_out, stopped


def _note(log_path, text):
    """A line of the lab's own after the reproducer's output, marked as such."""
    with open(log_path, "ab") as out:
        out.write(f"\n[reprolab: {text}]\n".encode())


def create(client, opts):
    """Create a container from container_options(). `systempaths=unconfined` is a docker CLI option,
    not an API one: the API takes empty MaskedPaths/ReadonlyPaths, which docker-py cannot pass, so
    the host config is built here and completed by hand."""
    opts = dict(opts)
    security = list(opts.pop("security_opt", []))
    unmask = "systempaths=unconfined" in security
    security = [s for s in security if s != "systempaths=unconfined"]
    image, labels, env = opts.pop("image"), opts.pop("labels"), opts.pop("environment", None)
    user = opts.pop("user", None)
    command = opts.pop("command", None)  # None: the image's CMD
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
                                          network_disabled=network == "none", user=user, command=command)
    # a model of the id alone: inspecting the new container (containers.get) told nothing used
    return client.containers.prepare_model({"Id": created["Id"]})


def _kill(container):
    try:
        container.kill()
        container.wait(timeout=30)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass


def _frames(client, container_id):
    """(stream, bytes) frames of an ended container's whole output in the order written (1 stdout,
    2 stderr): the engine's multiplexed log stream, read with its frame headers.

    One request where docker-py's logs() makes two (it inspects the container first to learn
    whether it has a terminal; the lab never gives it one), and one pass for both the saved log and
    the verdict: docker-py's logs() drops the headers that tell stdout from stderr."""
    api = client.api
    url = f"{api.base_url}/v{api.api_version}/containers/{container_id}/logs"
    res = api.get(url, params={"stdout": 1, "stderr": 1, "follow": 0, "timestamps": 0, "tail": "all"}, stream=True)
    try:
        res.raise_for_status()
        while True:
            header = res.raw.read(8)
            if len(header) < 8:
                return
            kind, length = struct.unpack(">BxxxL", header)
            data = res.raw.read(length) if length else b""
            if length and not data:
                return
            yield kind, data
    finally:
        res.close()


def _read_output(client, container, log_path, sink=None):
    """Save the container's output into the log file (at most LOG_LIMIT bytes) and scan all of its
    stdout for the verdict (scan keeps only verdict lines: no tail to fall out of): (Verdict, why).
    `sink(kind, data)`, when given, gets every frame too (a compare rule's lines)."""
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        written = 0

        def stdout():
            nonlocal written
            try:
                for kind, data in _frames(client, container.id):
                    if sink is not None:
                        sink(kind, data)
                    if written < LOG_LIMIT:
                        if written + len(data) > LOG_LIMIT:
                            out.write(data[: LOG_LIMIT - written])
                            out.write(b"\n[reprolab: log truncated]\n")
                            written = LOG_LIMIT
                        else:
                            out.write(data)
                            written += len(data)
                    if kind == 1:
                        yield data
            except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
                out.write(f"\n[reprolab: log capture failed: {exc}]\n".encode())
                raise

        return verdict.scan(stdout())


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
