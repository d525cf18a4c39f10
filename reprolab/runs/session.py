"""One run of the lab: bases, builds, containers, verdicts, and the record that keeps them all."""

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
from reprolab.engines import bases, build, engine, ownership, privilege
from reprolab.results import exposure, record
from reprolab.runs import budget, execute, prereq, runopts
from reprolab.scenarios import render
from reprolab.common.errors import EngineError, Interrupted
from reprolab.common.outcome import Outcome, match

RUN_LABEL = labels.RUN
ENGINE_RETURN = 90  # seconds a run waits for an engine that stopped answering (a restart takes a few)


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
    def __init__(self, client, targets, results_dir, argv, progress=lambda msg: None, repeat=1,
                 until_decided=False, confidence=0.95, max_rate=0.1, jobs=1, base_source=None,
                 build_timeout=build.DEFAULT_TIMEOUT, host_extra=None, prebuilt=None, calibrator=None):
        self.build_timeout = build_timeout
        # runs.calibration.Calibrator: measures this engine once; budgets scale with it (None: as written)
        self.calibrator, self.scale = calibrator, budget.Scale()
        # facts the endpoint adds to the engine's own (a guest's kernel, accelerator, boot time)
        self.host_extra = host_extra or {}
        # {tag: why it is missing or ''}: the images were built on the lab's own engine and sent here;
        # this session reuses them and never builds (a guest's engine builds nothing)
        self.prebuilt = prebuilt
        self.base_source = base_source  # a local engine to copy bases from when a remote one lacks them
        self.repeat, self.until_decided, self.jobs = repeat, until_decided, jobs
        self.confidence, self.max_rate = confidence, max_rate
        self._lock = threading.Lock()
        self._build_locks = {}
        self._leftovers = set()  # containers the engine could not remove while it was away
        self._recovering = threading.Lock()
        self._stopped = False
        self._fence = threading.Lock()  # container creation versus the final sweep: see _creating
        self._spans = {}
        self.client = client
        self.targets = targets
        self.results_dir = Path(results_dir)
        self.progress = progress
        self.run_id = record.new_run_id()
        self.owner = {labels.RUN: self.run_id, **ownership.owner_labels()}  # on every container it makes
        self.writer = record.RecordWriter(self.results_dir, self.run_id)
        self.log_dir = self.results_dir / "logs" / self.run_id
        self.record = {
            "kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": self.run_id,
            "lab_version": __version__, "command": list(argv), "started": record.utc(time.time()),
            "ended": None, "interrupted": False, "host": {}, "privileged_mode": None,
            "bases": {}, "results": [], "jobs": jobs, "repeat": repeat,
        }
        self._built = {}
        self._build_errors = {}  # {tag: the engine's failure under its build}: that variant's error
        self._build_spans = {}  # {tag: (start, end) on time.monotonic()}: which runs a build ran beside

    def run(self):
        """Run every target; returns the record (also written). Interrupted propagates after cleanup."""
        try:
            with interruptible():
                self._prepare()
                self.writer.write(self.record)
                if self.jobs <= 1:
                    for i, target in enumerate(self.targets, 1):
                        self._repeats(target, i)
                else:
                    self._parallel()
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

    def _repeats(self, target, index):
        """Run one target `repeat` times (fewer with until_decided); record each run as it ends."""
        k = n = 0
        for i in range(1, self.repeat + 1):
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
            if self.until_decided and n and stats.decided(k, n, self.confidence, self.max_rate):
                self.progress(f"{target.key}: decided after {n} run(s): {stats.rate_cell(k, n, self.confidence)}")
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

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.jobs)]
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
        results.sort(key=lambda r: (order.get(f"{r['scenario']}:{r['variant']}@{r['suite']}", 0), r.get("repeat", 0)))
        for r in results:
            a0, a1 = self._spans.get(id(r), (0, 0))
            r["built_beside"] = sorted(tag for tag, (b0, b1) in self._build_spans.items() if b0 < a1 and a0 < b1)
        if self.jobs > 1:
            for r in results:
                a0, a1 = self._spans.get(id(r), (0, 0))
                r["ran_beside"] = sorted({
                    f"{o['scenario']}:{o['variant']}@{o['suite']}" for o in results
                    if o is not r and self._spans.get(id(o), (0, 0))[0] < a1 and a0 < self._spans.get(id(o), (0, 0))[1]})

    def _prepare(self):
        self.record["host"] = engine.host_facts(self.client)
        self.record["host"].update(self.host_extra)
        self._bases = bases.ensure_for(self.client, [t.recipe for t in self.targets], self.progress,
                                       local=self.record["host"]["local_engine"], source=self.base_source)
        for b in self._bases.values():
            self.record["bases"][b.image] = {"available": b.available, "origin": b.origin, "reason": b.reason}
        if self.calibrator is not None:
            self.record["host"]["speed"], self.scale = self.calibrator.engine(
                self.client, self.record["host"], self._bases, self.progress, self.owner, sent=self.prebuilt is not None)
        self.privileged_ok, probe_reason = True, ""
        if any(t.scenario.requires.privileged for t in self.targets):
            probe_image = next((b for b, info in self.record["bases"].items() if info["available"]), None)
            if probe_image:
                self.privileged_ok, probe_reason = privilege.probe(self.client, probe_image, self.owner)
            mode = privilege.PRIVILEGED if self.privileged_ok else privilege.EMULATED
            self.record["privileged_mode"] = mode
            self.record["privileged_probe"] = probe_reason
            if not self.privileged_ok:
                self.progress(f"privileged mode refused by this host ({privilege.clip(probe_reason, 120)}); "
                              f"using the equivalent explicit settings")
        if self.prebuilt is None:
            self._build_first()

    def _build_first(self):
        """Every image of the run, built before any variant runs: suites in parallel (build.lanes),
        so that no build shares the cores with a race's exposure (results say so in built_beside).
        Targets that will be skipped for a prerequisite are not built, as before."""
        skip = lambda t: prereq.skip_reason(t.scenario.requires, self.record["host"])
        for tb in build.build_all(self.client, self.targets, self._bases, self.progress,
                                  timeout=self.build_timeout, skip=skip):
            if tb.built is None and tb.error is None:
                continue  # its base is missing: the variant says so when it runs
            self._build_spans[tb.tag] = tb.span
            if tb.error is not None:
                self._build_errors[tb.tag] = tb.error
                continue
            self._note_build(tb.target, tb.tag, tb.built)
            self._built[tb.tag] = (tb.ctx, tb.built)

    def _entry(self, target, repeat, started):
        """A result entry of `target`, its outcome not yet known."""
        sc, v, recipe = target.scenario, target.variant, target.recipe
        entry = {
            "scenario": sc.name, "variant": v.name, "suite": target.suite, "base": recipe.base,
            "model": v.model, "expected": v.expect, "outcome": None, "match": None, "reason": "",
            "attempts": 0, "seconds": 0.0, "build_seconds": 0.0, "evidence": {}, "versions": {},
            "image": render.image_tag(sc, v, recipe), "image_id": None, "content_hash": None,
            "log": None, "exit_code": None, "privilege": None,
            "replay": f"python lab.py run {sc.name}:{v.name}" + (f" --suite {recipe.suite}" if recipe.suite else ""),
            "docker_command": None, "started": record.utc(started),
        }
        if self.repeat > 1:
            entry["repeat"] = repeat
        return entry

    def fail(self, reason, engine_url=""):
        """Keep a failure of the whole session (its host unreachable, an unforeseen exception) in its
        record: each target without a result gets an `error` entry saying why. Returns the record."""
        now = time.time()
        with self._lock:
            if not self.record["host"]:
                label = engine_url.split("://", 1)[-1].split("@")[-1]
                self.record["host"] = {"engine_url": engine_url, "host_label": label, "local_engine": None,
                                       "kernel": None, "hostname": None}
                self.record["host"].update(self.host_extra)
            done = {(r["scenario"], r["variant"], r["suite"]) for r in self.record["results"]}
            for target in self.targets:
                if (target.scenario.name, target.variant.name, target.suite) in done:
                    continue
                entry = self._entry(target, 1, now)
                entry.update(outcome=Outcome.ERROR.value, reason=reason, ended=record.utc(now),
                             match=match(Outcome.ERROR.value, target.variant.expect))
                self.record["results"].append(entry)
            self.record["ended"] = record.utc(now)
            self.writer.write(self.record)
        return self.record

    def _one(self, target, index, total, repeat=1):
        v = target.variant
        started = time.time()
        mono = time.monotonic()
        entry = self._entry(target, repeat, started)
        tag = f"[{index}/{total}]" + (f" run {repeat}/{self.repeat}" if self.repeat > 1 else "")
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

    def _recover_engine(self, wait=None):
        """After an engine error: wait (bounded) for the engine to answer again, then remove what it
        could not remove while it was away, so the run goes on instead of failing every variant left
        in the second the engine was down. The record keeps each interruption."""
        wait = ENGINE_RETURN if wait is None else wait
        with self._recovering:
            start = time.monotonic()
            answered, noted = False, False
            while True:
                try:
                    self._fresh_ping()
                    answered = True
                    break
                except Exception:  # noqa: BLE001 - any failure to answer is the engine being away
                    if time.monotonic() - start >= wait or self._stopped:
                        break
                    if not noted:
                        self.progress(f"the engine does not answer; waiting up to {wait} s for it to return")
                        noted = True
                    time.sleep(1)
            waited = round(time.monotonic() - start, 1)
            if noted or self._leftovers:
                with self._lock:
                    self.record.setdefault("engine_interruptions", []).append(
                        {"at": record.utc(time.time()), "waited_seconds": waited, "answered": answered,
                         "leftover_containers": len(self._leftovers)})
            if answered:
                close = getattr(self.client.api, "close", None)
                if noted and close:
                    close()  # pooled connections lead to the engine that went away
                for cid in list(self._leftovers):
                    try:
                        self.client.api.remove_container(cid, force=True)
                        self._leftovers.discard(cid)
                    except docker.errors.NotFound:
                        self._leftovers.discard(cid)
                    except (docker.errors.APIError, requests.exceptions.RequestException):
                        pass
            return answered

    def _fresh_ping(self):
        """Ping over a new connection: a pooled one may still reach a daemon that is shutting down
        (and answers) while its socket is already gone for everyone else."""
        url = getattr(self.client, "reprolab_url", None) or self.record["host"].get("engine_url")
        if not url:
            return self.client.ping()
        fresh = docker.DockerClient(base_url=url, timeout=5)
        try:
            return fresh.ping()
        finally:
            fresh.close()

    def _shares_cpus(self):
        """The variant runs on the lab's own machine: its engine is local or a guest of this machine."""
        host = self.record["host"]
        return bool(host.get("local_engine") or host.get("guest"))

    def _execute(self, target, entry):
        sc, v, recipe = target.scenario, target.variant, target.recipe
        reason = prereq.skip_reason(sc.requires, self.record["host"])
        if reason:
            return Outcome.SKIPPED.value, reason
        base = self.record["bases"].get(recipe.base, {})
        if not base.get("available"):
            return Outcome.SKIPPED.value, base.get("reason") or f"base image {recipe.base} is not available"
        try:
            ctx, built = self._build(target)
            entry["content_hash"] = ctx.content_hash
            entry["build_seconds"] = built.seconds
            if not built.ok:
                entry["build_log_tail"] = built.log_tail
                if built.log:
                    entry["build_log"] = self._build_log_name(target)
                return Outcome.ERROR.value, _build_failure(built)
            entry["image_id"] = built.image_id
            mode = runopts.privilege_mode(sc, self.privileged_ok)
            missing = self.record["host"].get("cap_bounding_missing") or []
            opts = runopts.container_options(sc, v, recipe, ctx.tag, self.run_id, mode, missing)
            opts["labels"].update(self.owner)
            entry["privilege"] = mode
            entry["docker_command"] = shlex.join(runopts.docker_argv(opts))
            suffix = f".{entry['repeat']}" if "repeat" in entry else ""
            log_path = self.log_dir / f"{sc.name}.{v.name}.{target.suite.replace('/', '_').replace(':', '_')}{suffix}.log"
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

    def _build_log_name(self, target):
        """The build log's path relative to the results folder: logs/<run>/<scenario>.<variant>.<suite>.build.log"""
        suite = target.suite.replace('/', '_').replace(':', '_')
        return f"logs/{self.run_id}/{target.scenario.name}.{target.variant.name}.{suite}.build.log"

    def _report_build_failure(self, target, tag, built):
        """Save the whole build log; say on the console where it failed, what the compiler said last
        (plain text: the engine's colour codes are stripped) and where the whole log is."""
        lines = [f"build of {tag} FAILED" + (f" at {built.failed_step}" if built.failed_step else "")]
        lines += [f"  | {ln}" for ln in (build.cause(built, lines=12) or built.log_tail.splitlines()[-3:])]
        last = (built.log_tail.splitlines() or [""])[-1]
        if last and f"  | {last}" not in lines:
            lines.append(f"  | {last}")
        if built.log:
            path = self.results_dir / self._build_log_name(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(built.log)
            lines.append(f"  whole build log: {path}")
        self.progress("\n".join(lines))

    def _build(self, target):
        """(context, Built) of `target`, built once per image tag however many workers ask."""
        tag = render.image_tag(target.scenario, target.variant, target.recipe)
        with self._lock:
            lock = self._build_locks.setdefault(tag, threading.Lock())
        with lock:
            if tag not in self._built and self.prebuilt is not None:
                self._built[tag] = build.sent_target(self.client, target, self._bases[target.recipe.base],
                                                     self.prebuilt.get(tag))
            if tag in self._build_errors:
                raise self._build_errors[tag]
            if tag not in self._built:
                start = time.monotonic()
                ctx, built = build.build_target(self.client, target, self._bases[target.recipe.base], self.progress,
                                                timeout=self.build_timeout)
                self._build_spans[tag] = (start, time.monotonic())
                self._note_build(target, tag, built)
                self._built[tag] = (ctx, built)
            return self._built[tag]

    def _note_build(self, target, tag, built):
        if not built.ok:
            self._report_build_failure(target, tag, built)
        elif built.steps:
            self.progress(f"built {tag} in {built.seconds:.1f}s ({built.cached_steps}/{built.steps} steps cached)")


def _build_failure(built):
    """The reason of a failed build: the step, what the compiler said last, and the engine's word."""
    last = (built.log_tail.splitlines() or [""])[-1]
    if last.startswith("build timed out"):  # the lab stopped it: the step's own last words are not the cause
        return f"image build failed: {last[:300]}"
    said = [ln for ln in build.cause(built) if ln != last]  # the engine's own word, when it is the last line, once
    where = f" in {built.failed_step[:200]}" if built.failed_step else ""
    return (f"image build failed{where}: " + (f"{said[0][:300]} ({last[:200]})" if said else last[:300]))


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
