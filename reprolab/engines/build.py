"""Build rendered contexts with docker-py, reusing the layer cache.

A bad build (the engine refused it, a step failed) is a Built with ok=False; an engine that fails
underneath a build raises EngineError (engine_errors.py).

The one path from targets to images (bases made sure of, contexts rendered, images built), used by a
run's session and by `lab.py build` alike.
"""

import queue
import re
import threading
import time
from dataclasses import dataclass

import docker

from reprolab.common import heartbeat
from reprolab.engines import bases, toolchains
from reprolab.scenarios import render
from reprolab.engines.engine_errors import ENGINE_FAILURES, boundary, url

from reprolab.common import labels as lab_labels

TAIL_LINES = 30
DEFAULT_TIMEOUT = 1800  # seconds for one image's build; lab.py's --build-timeout / REPROLAB_BUILD_TIMEOUT
LANES = 3  # builds at once at most: one per suite of a whole run


@dataclass(frozen=True)
class Built:
    ok: bool
    image_id: str
    seconds: float
    steps: int
    cached_steps: int
    log_tail: str
    failed_step: str = ""  # the "Step n/m : ..." line of a failed build
    log: str = ""  # the whole build output, as plain text


# CSI sequences (colours, cursor moves), OSC sequences (titles, links), then any other escape
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# the engine's own lines between a step's output and its failure
_ENGINE_LINE = re.compile(r"^\s*(---> |Removing intermediate container |Successfully (built|tagged) )")


def plain(line):
    """A build line as a console or a file shows it without a terminal: no escape codes, no control
    characters, and of a line redrawn with carriage returns only its last form."""
    line = _ESCAPES.sub("", line)
    line = line.rstrip("\r").rsplit("\r", 1)[-1]
    return _CONTROL.sub("", line)


def cause(built, lines=1):
    """The last `lines` lines a failed build printed before the engine's own failure message: where
    the compiler or the package manager says what went wrong."""
    out = [ln for ln in built.log.splitlines() if ln.strip() and not _ENGINE_LINE.match(ln)]
    while out and (out[-1].startswith("The command ") or out[-1].startswith("the engine reported")
                   or out[-1].startswith("build timed out")):
        out.pop()
    if out and out[-1].startswith("Step "):
        return []
    return out[-lines:]


BASE_ID_LABEL = lab_labels.BASE_ID


def reusable(client, ctx, base_id):
    """The id of an image already built from this exact context on this exact base, else ''."""
    with boundary(f"looking up {ctx.tag}", url(client)):
        try:
            img = client.images.get(ctx.tag)
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            return ""
    labels = img.labels or {}
    if labels.get(lab_labels.CONTENT_HASH) == ctx.content_hash and labels.get(BASE_ID_LABEL) == base_id:
        return img.id
    return ""


def build(client, ctx, progress=lambda msg: None, base_id="", timeout=DEFAULT_TIMEOUT):
    """Build `ctx`; an image of the same content hash on the same base is reused without a build.

    A build still going after `timeout` seconds is stopped: the container of its running step is
    removed (the build then fails, and forcerm removes the rest), and the Built names that step.
    """
    start = time.monotonic()
    if base_id:
        image_id = reusable(client, ctx, base_id)
        if image_id:
            return Built(True, image_id, round(time.monotonic() - start, 2), 0, 0, "reused: same content and base")
    log, steps, cached, image_id, error, pending, step = [], 0, 0, "", "", "", ""
    running = {}  # "id": the container of the step running now, named by the build's "Running in" line
    expired = threading.Event()

    def expire():
        expired.set()
        if running.get("id"):
            try:
                client.api.remove_container(running["id"], force=True)
            except ENGINE_FAILURES:
                pass  # the engine is gone too: the stream's read timeout ends the build

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        with boundary(f"building {ctx.tag}", url(client)):
            try:
                # the read timeout ends a stall that has no container to remove (a context upload, a FROM)
                stream = client.api.build(fileobj=ctx.tar(), custom_context=True, tag=ctx.tag, rm=True,
                                          forcerm=True, pull=False, decode=True, timeout=timeout + 60,
                                          labels={BASE_ID_LABEL: base_id} if base_id else None)
                for chunk in stream:
                    if "stream" in chunk:
                        for line in chunk["stream"].splitlines():
                            line = plain(line)
                            if not line.strip():
                                continue
                            log.append(line)
                            if line.startswith("Step "):
                                steps += 1
                                pending = step = line.strip()
                            elif "Using cache" in line:
                                cached += 1
                            elif "Running in" in line:
                                running["id"] = line.split("Running in", 1)[1].strip()
                                if pending:
                                    progress(pending)  # only steps that really run; cached ones stay quiet
                                    pending = ""
                    if "error" in chunk:
                        error = plain(chunk["error"].strip())
                        log.append(error)
                    aux = chunk.get("aux") or {}
                    if "ID" in aux:
                        image_id = aux["ID"]
            except (docker.errors.APIError, docker.errors.BuildError) as exc:
                error = str(exc)  # the engine answered and refused: a bad build, not a dead engine
                log.append(error)
            except ENGINE_FAILURES:
                if not expired.is_set():
                    raise
    finally:
        timer.cancel()
    if expired.is_set():
        error = f"build timed out after {timeout:g} s in {step or 'its start'}"
        log.append(error)
    ok = not error and bool(image_id)
    if not ok and not error:
        log.append("the engine reported no image id")
    return Built(ok, image_id, round(time.monotonic() - start, 2), steps, cached,
                 "\n".join(log[-TAIL_LINES:]), failed_step="" if ok else step, log="\n".join(log) + "\n")


@dataclass(frozen=True)
class TargetBuild:
    """One target's build: `built` is None when it was not attempted, and `skipped` says why, or
    `error` holds the engine's failure under it. `span`: (start, end) on time.monotonic()."""
    target: object
    tag: str
    built: Built = None
    skipped: str = ""
    ctx: object = None
    error: Exception = None
    span: tuple = ()


def build_target(client, target, base, progress=lambda msg: None, reuse=True, timeout=DEFAULT_TIMEOUT):
    """Render and build one target on `base` (a bases.Base made sure of): (context, Built). The
    images of its release layers (toolchains.py) are made first: its build stage copies from them."""
    for layer in target.recipe.layers:
        toolchains.ensure(client, layer, progress)
    ctx = render.render(target.scenario, target.variant, target.recipe)
    with heartbeat.activity(progress, f"building {ctx.tag}") as act:
        def step(line):
            act.detail(line.strip()[:100])  # "Step 5/12 : RUN ...": how far along, for the heartbeat
            act.say("  " + line)
        return ctx, build(client, ctx, step, base.id if reuse else "", timeout)


def sent_target(client, target, base, missing_reason=None):
    """(context, Built) of an image built on another engine and sent to `client`: reused when it
    arrived with the same content hash and base, else a failed build saying why it is not here."""
    ctx = render.render(target.scenario, target.variant, target.recipe)
    image_id = reusable(client, ctx, base.id)
    if image_id:
        return ctx, Built(True, image_id, 0.0, 0, 0, "sent from the lab's engine")
    why = missing_reason or f"{ctx.tag} was not built on the lab's engine, so it was not sent here"
    return ctx, Built(False, "", 0.0, 0, 0, why)


def lanes(targets, skip=lambda target: ""):
    """The targets to build, one per image tag and none that `skip` gives a reason for, in lanes by
    base image: each lane builds in turn, the lanes at once.

    By base because the classic builder does not share a step that two builds are making at the same
    moment: two images of one suite started together would each install the suite's toolchain (about
    100 s); one after the other, the second finds the first's layer in the cache. Lanes of different
    suites share no layer, so the three toolchains are installed at once. Targets on different
    releases of a version axis (their own toolchain images) get lanes of their own too."""
    out, seen = {}, set()
    for t in targets:
        tag = render.image_tag(t.scenario, t.variant, t.recipe)
        if tag in seen or skip(t):
            continue
        seen.add(tag)
        # releases of a version axis share no layer after the suite's toolchain: a lane each
        out.setdefault((t.recipe.base, tuple(la.release for la in t.recipe.layers)), []).append(t)
    return list(out.values())


def build_all(client, targets, ready, progress=lambda msg: None, reuse=True, timeout=DEFAULT_TIMEOUT,
              workers=LANES, skip=lambda target: ""):
    """Build the targets on their bases `ready` ({base image: bases.Base}) in lanes (see lanes()),
    `workers` at once; yields a TargetBuild as each ends, an engine failure in its `error`. Closing
    the generator (an interrupt) lets each lane finish only the build it is in."""
    todo, done, stop = queue.Queue(), queue.Queue(), threading.Event()
    plan = lanes(targets, skip)
    for lane in plan:
        todo.put(lane)

    def one(t):
        tag = render.image_tag(t.scenario, t.variant, t.recipe)
        base = ready[t.recipe.base]
        start = time.monotonic()
        if not base.available:
            return TargetBuild(t, tag, None, base.reason, span=(start, start))
        try:
            ctx, built = build_target(client, t, base, progress, reuse, timeout)
            return TargetBuild(t, ctx.tag, built, ctx=ctx, span=(start, time.monotonic()))
        except Exception as exc:  # the engine failed under this build: the caller decides what it ends
            return TargetBuild(t, tag, None, error=exc, span=(start, time.monotonic()))

    def worker():
        while not stop.is_set():
            try:
                lane = todo.get_nowait()
            except queue.Empty:
                return
            for t in lane:
                if stop.is_set():
                    return
                done.put(one(t))

    threads = [threading.Thread(target=worker, name="build lane", daemon=True)
               for _ in range(max(1, min(workers, len(plan))))]
    for th in threads:
        th.start()
    try:
        for _ in range(sum(len(lane) for lane in plan)):
            while True:
                try:
                    yield done.get(timeout=0.2)  # short waits keep the main thread responsive to signals
                    break
                except queue.Empty:
                    if not any(th.is_alive() for th in threads) and done.empty():
                        return  # the lanes stopped early
    finally:
        stop.set()


def build_targets(client, targets, progress=lambda msg: None, reuse=True, local=True, source=None,
                  timeout=DEFAULT_TIMEOUT):
    """Each base made sure of once, then the targets built in lanes (build_all); yields a TargetBuild
    as each ends, and raises an engine failure once the other lanes have had their say."""
    ready = bases.ensure_for(client, [t.recipe for t in targets], progress, local=local, source=source)
    error = None
    for tb in build_all(client, targets, ready, progress, reuse, timeout):
        if tb.error is not None:
            error = error or tb.error
            continue
        yield tb
    if error is not None:
        raise error
