"""One run of the lab on one engine: bases, builds, containers, verdicts, and the record that keeps them.

A session reads top to bottom as its phases: prepare (the host's facts, bases, the privilege
probe), build every image first, run each target with its repeats, and finish the record. What the
user chose is its Policy (runs.policy); what its endpoint gives it is a Connected (engines.endpoints).
"""

import os
import queue
import shlex
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import docker
import requests

from reprolab import __version__
from reprolab.common import heartbeat, labels, stats
from reprolab.common.errors import EngineError, Interrupted
from reprolab.common.outcome import Outcome, match
from reprolab.engines import bases, engine, engine_errors, ownership, privilege
from reprolab.results import exposure, record
from reprolab.runs import entry as entries
from reprolab.runs import budget, execute, prereq, recovery, runopts
from reprolab.runs.images import RunImages, failure_reason
from reprolab.runs.policy import Policy
from reprolab.scenarios import selection

RUN_LABEL = labels.RUN


@contextmanager
def interruptible():
    """Turn SIGINT and SIGTERM into Interrupted so that `finally` blocks clean up."""
    def handler(signum, frame):
        raise Interrupted(signum)
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals; it aborts the sessions of other threads
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Stopped(Exception):
    """The run is stopping: no container may be created any more."""


def remove_run_containers(client, run_id):
    try:
        for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
            c.remove(force=True)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass


class Session:
    def __init__(self, connected, targets, results_dir, argv, progress=lambda msg: None, policy=Policy(),
                 calibrator=None, beside_builds=None):
        self.connected, self.policy = connected, policy
        # work that runs beside this session's builds only (axes.go: the next probes' toolchains):
        # .start() as the builds start (after the calibration, so it measures a quiet machine),
        # .settle() once they are done and before the first run; what settle returns is recorded
        self.beside_builds = beside_builds
        # runs.calibration.Calibrator: measures this engine once; budgets scale with it (None: as written)
        self.calibrator, self.scale = calibrator, budget.Scale()
        self.client = connected.client
        self.targets = targets
        self.results_dir = Path(results_dir)
        self.progress = progress
        self.run_id = record.new_run_id()
        self.owner = {labels.RUN: self.run_id, **ownership.owner_labels()}  # on every container it makes
        self.writer = record.RecordWriter(self.results_dir, self.run_id)
        self.log_dir = self.results_dir / "logs" / self.run_id
        self.images = RunImages(self.client, self.results_dir, self.run_id, progress, policy.build_timeout,
                                connected.prebuilt)
        self.record = {
            "kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": self.run_id,
            "lab_version": __version__, "command": list(argv), "started": record.utc(time.time()),
            "ended": None, "interrupted": False, "host": {}, "privileged_mode": None,
            "bases": {}, "results": [], "jobs": policy.jobs, "repeat": policy.repeat,
        }
        self.privileged_ok = True
        self._lock = threading.Lock()  # the record, between worker threads
        self._leftovers = set()  # containers the engine could not remove while it was away
        self._recovering = threading.Lock()
        self._stopped = False
        self._fence = threading.Lock()  # container creation versus the final sweep: see _creating
        self._spans = {}  # {id(entry): (start, end) on time.monotonic()}

    # -- the phases, in order -------------------------------------------------------------------

    def run(self):
        """Run every target; returns the record (also written). Interrupted propagates after cleanup."""
        try:
            with interruptible():
                self._prepare()
                if self.beside_builds is not None:
                    self.beside_builds.start()
                if self.connected.prebuilt is None:
                    self.images.build_first(self.targets, self._skip_reason)
                if self.beside_builds is not None:
                    beside = self.beside_builds.settle()
                    if beside:
                        self.record["prepared_ahead"] = beside
                self.writer.write(self.record)
                self._run_targets()
        except Interrupted:
            self.record["interrupted"] = True
            raise
        finally:
            if self._leftovers and not self.record["interrupted"]:
                self._recover_engine()  # the engine went away under the last variant: remove what it left
            with _ignoring_signals():
                self._stop()
                with self._lock:  # worker threads may still be finishing a variant
                    self._finish_results()
                    self.record["ended"] = record.utc(time.time())
                    self.writer.write(self.record)
        return self.record

    def _prepare(self):
        """The host's facts, the bases every target needs, and whether privileged mode is granted."""
        host = self.record["host"] = engine.host_facts(self.client)
        host.update(self.connected.facts)
        # on disk before the first container (a root step, the calibration, the privilege probe), so
        # that `lab.py clean --run RUN` of a run killed at any moment knows its id
        self.writer.write(self.record)
        self.images.bases = bases.ensure_for(self.client, [t.recipe for t in self.targets], self.progress,
                                             local=host["local_engine"], source=self.connected.base_source)
        for b in self.images.bases.values():
            self.record["bases"][b.image] = {"available": b.available, "origin": b.origin, "reason": b.reason}
        if self.calibrator is not None:
            for _ in self._once_more_after_an_absence(lambda: host["speed"].get("error", "")):
                host["speed"], self.scale = self.calibrator.engine(self.client, host, self.images.bases,
                                                                   self.progress, self.owner,
                                                                   sent=self.connected.prebuilt is not None)
        if any(t.scenario.requires.privileged for t in self.targets):
            self._probe_privilege()

    def _once_more_after_an_absence(self, failure):
        """Yield once for a step of the preparation, and once more when `failure()` then says the
        engine went away under it and the engine came back (a restart): the step's answer was the
        engine's absence, not the engine's, and must not decide the run (unscaled budgets, privileged
        mode taken as refused)."""
        yield
        if failure().startswith(engine_errors.ENGINE_AWAY) and self._recover_engine():
            self.progress("the engine is back; the step it went away under is made again")
            yield

    def _probe_privilege(self):
        probe_image = next((b for b, info in self.record["bases"].items() if info["available"]), None)
        reason = ""
        if probe_image:
            for _ in self._once_more_after_an_absence(lambda: reason):
                self.privileged_ok, reason = privilege.probe(self.client, probe_image, self.owner)
        self.record["privileged_mode"] = privilege.PRIVILEGED if self.privileged_ok else privilege.EMULATED
        self.record["privileged_probe"] = reason
        if not self.privileged_ok:
            self.progress(f"privileged mode refused by this host ({privilege.clip(reason, 120)}); "
                          f"using the equivalent explicit settings")

    def _run_targets(self):
        if self.policy.jobs <= 1:
            for i, target in enumerate(self.targets, 1):
                self._repeats(target, i)
        else:
            self._parallel()

    def _repeats(self, target, index):
        """Run one target `repeat` times (fewer with until_decided); record each run as it ends."""
        k = n = 0
        for i in range(1, self.policy.repeat + 1):
            entry = self._one(target, index, len(self.targets), i)
            with self._lock:
                if self._stopped:  # checked under the lock: the final write has been or is being made
                    return
                self.record["results"].append(entry)
                self.writer.write(self.record)
            if entry["outcome"] in ("reproduced", "not-reproduced"):
                n += 1
                k += entry["outcome"] == "reproduced"
            elif entry["outcome"] in ("skipped", "error"):
                return  # repeating cannot change a missing prerequisite or a broken build
            if self.policy.decided(k, n):
                self.progress(f"{target.key}: decided after {n} run(s): "
                              f"{stats.rate_cell(k, n, self.policy.confidence)}")
                return

    def _parallel(self):
        """Run targets on `jobs` daemon threads (an interrupt must not wait for a running build)."""
        todo = queue.Queue()
        for i, t in enumerate(self.targets, 1):
            todo.put((i, t))
        errors = []

        def worker():
            while not self._stopped:
                try:
                    i, t = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._repeats(t, i)
                except Exception as exc:  # surfaced in the main thread below
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.policy.jobs)]
        for th in threads:
            th.start()
        for th in threads:
            while th.is_alive():
                th.join(0.2)  # short joins keep the main thread responsive to signals
        if errors:
            raise errors[0]

    def _finish_results(self):
        """Order results as the targets were given, and say which runs overlapped in time, and which
        image builds ran beside each run (a build shares the cores, so it can change a race's rate)."""
        order = {t.key: i for i, t in enumerate(self.targets)}
        results = self.record["results"]
        results.sort(key=lambda r: (order.get(selection.result_key(r), 0), r.get("repeat", 0)))
        span = lambda r: self._spans.get(id(r), (0, 0))
        for r in results:
            a0, a1 = span(r)
            r["built_beside"] = sorted(tag for tag, (b0, b1) in self.images.spans.items() if b0 < a1 and a0 < b1)
        if self.policy.jobs > 1:
            for r in results:
                a0, a1 = span(r)
                r["ran_beside"] = sorted({selection.result_key(o) for o in results
                                          if o is not r and span(o)[0] < a1 and a0 < span(o)[1]})

    # -- one variant run ------------------------------------------------------------------------

    def _one(self, target, index, total, repeat=1):
        v = target.variant
        started = time.time()
        mono = time.monotonic()
        entry = entries.new(target, started, repeat if self.policy.repeat > 1 else None)
        tag = f"[{index}/{total}]" + (f" run {repeat}/{self.policy.repeat}" if self.policy.repeat > 1 else "")
        self.progress(f"{tag} {target.key}: start")
        load = os.getloadavg()[0]
        with heartbeat.activity(self.progress, f"running {target.key}"):
            outcome, reason = self._execute(target, entry)
        if entry.get("reason", "").startswith("engine error") or reason.startswith("engine error"):
            self._recover_engine()
        if self._shares_cpus():
            # A race's rate changes when other work shares the CPUs (builds, other guests, other
            # runs): the lab's machine's 1-minute load before and after says whether it did.
            entry["lab_host_load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        entry["outcome"], entry["reason"] = outcome, reason or entry["reason"]
        entry["exposure"] = exposure.of(entry, target.scenario.exposure_count, target.scenario.exposure_unit,
                                        self.scale.slowdown)
        entry["match"] = match(outcome, v.expect)
        entry["ended"] = record.utc(time.time())
        self._spans[id(entry)] = (mono, time.monotonic())
        elapsed = time.time() - started
        note = f" ({entry['reason'][:100]})" if entry["reason"] and outcome in ("skipped", "error", "hang") else ""
        self.progress(f"{tag} {target.key}: {outcome}, expected {v.expect}, {elapsed:.1f}s{note}")
        return entry

    def _skip_reason(self, target):
        """Why `target` cannot run here: its point could not be had, or a prerequisite is missing."""
        return target.unavailable or prereq.skip_reason(target.scenario.requires, self.record["host"])

    def _execute(self, target, entry):
        sc, v, recipe = target.scenario, target.variant, target.recipe
        reason = self._skip_reason(target)
        if reason:
            return Outcome.SKIPPED.value, reason
        base = self.record["bases"].get(recipe.base, {})
        if not base.get("available"):
            return Outcome.SKIPPED.value, base.get("reason") or f"base image {recipe.base} is not available"
        try:
            ctx, built = self.images.get(target)
            entry["content_hash"] = ctx.content_hash
            entry["build_seconds"] = built.seconds
            if not built.ok:
                entry["build_log_tail"] = built.log_tail
                if built.log:
                    entry["build_log"] = self.images.log_name(target)
                return Outcome.ERROR.value, failure_reason(built)
            entry["image_id"] = built.image_id
            mode = runopts.privilege_mode(sc, self.privileged_ok)
            missing = self.record["host"].get("cap_bounding_missing") or []
            opts = runopts.container_options(sc, v, recipe, ctx.tag, self.run_id, mode, missing)
            opts["labels"].update(self.owner)
            entry["privilege"] = mode
            entry["docker_command"] = shlex.join(runopts.docker_argv(opts))
            log_path = self.log_dir / entries.log_name(target, entry.get("repeat"))
            entry["log"] = str(log_path.relative_to(self.results_dir))  # relative: records move with their logs
            copy = None
            if sc.artifacts:
                copy = (sc.artifacts, log_path.with_suffix(".artifacts"))
                entry["artifacts"] = {"from": sc.artifacts,
                                      "path": str(copy[1].relative_to(self.results_dir)), "files": []}
            b = budget.for_variant(sc, v, self.scale)
            entry["budget"] = b.facts()
            if b.note():
                self.progress(f"{target.key}: {b.note()}")
            result = execute.run_container(self.client, opts, b.timeout, log_path,
                                           self.record["host"].get("local_engine", False),
                                           creating=self._creating, read=b.read, artifacts=copy,
                                           on_leftover=self._leftovers.add)
        except Stopped:
            return Outcome.ERROR.value, "the run stopped before this variant's container was made"
        except execute.EngineLost as exc:
            return Outcome.ERROR.value, f"engine error: {exc}"
        except EngineError as exc:  # the engine failed under this variant's build: its outcome, not the run's end
            return Outcome.ERROR.value, f"engine error: {exc}"
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            return Outcome.ERROR.value, f"engine error: {str(exc).splitlines()[0][:300]}"
        entry.update(attempts=result.attempts, seconds=result.seconds, evidence=result.evidence,
                     versions=result.versions, exit_code=result.exit_code)
        if result.forensics:
            entry["forensics"] = result.forensics
        if result.artifacts is not None:
            entry["artifacts"].update(result.artifacts)
        if result.rule:  # a read rule decided, not a verdict line of the reproducer's
            entry["verdict_by"], entry["verdict_rule"] = result.verdict_by, result.rule
        if result.outcome == Outcome.HANG.value:
            return result.outcome, b.hang_reason(result.seconds)
        return result.outcome, result.reason

    def _shares_cpus(self):
        """The variant runs on the lab's own machine: its engine is local or a guest of this machine."""
        host = self.record["host"]
        return bool(host.get("local_engine") or host.get("guest"))

    # -- stopping, failing, and an engine that goes away ----------------------------------------

    def abort(self):
        """Stop a session running on another thread: no new results, containers removed, record kept."""
        self.record["interrupted"] = True
        self._stop()
        with self._lock:
            self.record["ended"] = record.utc(time.time())
            self.writer.write(self.record)

    @contextmanager
    def _creating(self):
        """Held around each container's creation: refused once the run stops, so that no worker
        thread creates a container after (or while) the sweep looks for the run's containers."""
        with self._fence:
            if self._stopped:
                raise Stopped()
            yield

    def _stop(self):
        """No new results or containers from now on; then remove the run's containers."""
        with self._fence:
            self._stopped = True
            remove_run_containers(self.client, self.run_id)

    def fail(self, reason, engine_url=""):
        """Keep a failure of the whole session (its host unreachable, an unforeseen exception) in its
        record: each target without a result gets an `error` entry saying why. Returns the record."""
        now = time.time()
        with self._lock:
            if not self.record["host"]:
                label = engine_url.split("://", 1)[-1].split("@")[-1]
                self.record["host"] = {"engine_url": engine_url, "host_label": label, "local_engine": None,
                                       "kernel": None, "hostname": None}
                self.record["host"].update(self.connected.facts)
            done = {selection.result_key(r) for r in self.record["results"]}
            for target in self.targets:
                if target.key in done:
                    continue
                entry = entries.new(target, now, 1 if self.policy.repeat > 1 else None)
                entry.update(outcome=Outcome.ERROR.value, reason=reason, ended=record.utc(now),
                             match=match(Outcome.ERROR.value, target.variant.expect))
                self.record["results"].append(entry)
            self.record["ended"] = record.utc(now)
            self.writer.write(self.record)
        return self.record

    def _recover_engine(self, wait=None):
        """After an engine error: wait (bounded) for the engine to answer again, then remove what it
        could not remove while it was away. The record keeps each interruption."""
        wait = recovery.ENGINE_RETURN if wait is None else wait
        url = getattr(self.client, "reprolab_url", None) or self.record["host"].get("engine_url")
        with self._recovering:
            answered, waited, away = recovery.wait_for(lambda: recovery.fresh_ping(self.client, url), wait,
                                                       lambda: self._stopped, self.progress)
            if away or self._leftovers:
                with self._lock:
                    self.record.setdefault("engine_interruptions", []).append(
                        {"at": record.utc(time.time()), "waited_seconds": waited, "answered": answered,
                         "leftover_containers": len(self._leftovers)})
            if answered:
                recovery.sweep(self.client, self._leftovers, away)
                if away:
                    self.images.engine_back()
            return answered


@contextmanager
def _ignoring_signals():
    """Cleanup must finish: a second Ctrl-C during it is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def exit_code(rec, strict=False):
    if rec.get("interrupted"):
        return 130
    bad = [r for r in rec["results"] if r["match"] == "no" or (strict and r["match"] == "skip")]
    return 1 if bad else 0
