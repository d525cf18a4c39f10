"""One run of the lab: bases, builds, containers, verdicts, and the record that keeps them all."""

import shlex
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import docker
import requests

from reprolab import __version__, bases, build, engine, execute, prereq, privilege, record, render, runopts
from reprolab.errors import Interrupted
from reprolab.outcome import Outcome, match

RUN_LABEL = f"{render.LABEL_PREFIX}.run"


@contextmanager
def interruptible():
    """Turn SIGINT and SIGTERM into Interrupted so that `finally` blocks clean up."""
    def handler(signum, frame):
        raise Interrupted(signum)
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def remove_run_containers(client, run_id):
    try:
        for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
            c.remove(force=True)
    except (docker.errors.APIError, requests.exceptions.RequestException):
        pass


class Session:
    def __init__(self, client, targets, results_dir, argv, progress=lambda msg: None):
        self.client = client
        self.targets = targets
        self.results_dir = Path(results_dir)
        self.progress = progress
        self.run_id = record.new_run_id()
        self.writer = record.RecordWriter(self.results_dir, self.run_id)
        self.log_dir = self.results_dir / "logs" / self.run_id
        self.record = {
            "kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": self.run_id,
            "lab_version": __version__, "command": list(argv), "started": record.utc(time.time()),
            "ended": None, "interrupted": False, "host": {}, "privileged_mode": None,
            "bases": {}, "results": [],
        }
        self._built = {}

    def run(self):
        """Run every target; returns the record (also written). Interrupted propagates after cleanup."""
        try:
            with interruptible():
                self._prepare()
                self.writer.write(self.record)
                total = len(self.targets)
                for i, target in enumerate(self.targets, 1):
                    self.record["results"].append(self._one(target, i, total))
                    self.writer.write(self.record)
        except Interrupted:
            self.record["interrupted"] = True
            raise
        finally:
            with _ignoring_signals():
                remove_run_containers(self.client, self.run_id)
                self.record["ended"] = record.utc(time.time())
                self.writer.write(self.record)
        return self.record

    def _prepare(self):
        self.record["host"] = engine.host_facts(self.client)
        local = self.record["host"]["local_engine"]
        suites = sorted({t.recipe.suite for t in self.targets if t.recipe.suite})
        images = sorted({t.recipe.base for t in self.targets if not t.recipe.suite})
        for s in suites:
            self._base(bases.ensure_suite(self.client, s, self.progress, local=local))
        for image in images:
            self._base(bases.ensure_image(self.client, image))
        self.privileged_ok, probe_reason = True, ""
        if any(t.scenario.requires.privileged for t in self.targets):
            probe_image = next((b for b, info in self.record["bases"].items() if info["available"]), None)
            if probe_image:
                self.privileged_ok, probe_reason = privilege.probe(self.client, probe_image)
            mode = privilege.PRIVILEGED if self.privileged_ok else privilege.EMULATED
            self.record["privileged_mode"] = mode
            self.record["privileged_probe"] = probe_reason
            if not self.privileged_ok:
                self.progress(f"privileged mode refused by this host ({probe_reason[:120]}); "
                              f"using the equivalent explicit settings")

    def _base(self, base):
        self.record["bases"][base.image] = {"available": base.available, "origin": base.origin, "reason": base.reason}

    def _one(self, target, index, total):
        sc, v, recipe = target.scenario, target.variant, target.recipe
        started = time.time()
        entry = {
            "scenario": sc.name, "variant": v.name, "suite": target.suite, "base": recipe.base,
            "model": v.model, "expected": v.expect, "outcome": None, "match": None, "reason": "",
            "attempts": 0, "seconds": 0.0, "build_seconds": 0.0, "evidence": {}, "versions": {},
            "image": render.image_tag(sc, v, recipe), "image_id": None, "content_hash": None,
            "log": None, "exit_code": None, "privilege": None,
            "replay": f"python lab.py run {sc.name}:{v.name}" + (f" --suite {recipe.suite}" if recipe.suite else ""),
            "docker_command": None, "started": record.utc(started),
        }
        self.progress(f"[{index}/{total}] {target.key}: start")
        outcome, reason = self._execute(target, entry)
        entry["outcome"], entry["reason"] = outcome, reason or entry["reason"]
        entry["match"] = match(outcome, v.expect)
        entry["ended"] = record.utc(time.time())
        elapsed = time.time() - started
        note = f" ({entry['reason'][:100]})" if entry["reason"] and outcome in ("skipped", "error", "hang") else ""
        self.progress(f"[{index}/{total}] {target.key}: {outcome}, expected {v.expect}, {elapsed:.1f}s{note}")
        return entry

    def _execute(self, target, entry):
        sc, v, recipe = target.scenario, target.variant, target.recipe
        reason = prereq.skip_reason(sc.requires, self.record["host"])
        if reason:
            return Outcome.SKIPPED.value, reason
        base = self.record["bases"].get(recipe.base, {})
        if not base.get("available"):
            return Outcome.SKIPPED.value, base.get("reason") or f"base image {recipe.base} is not available"
        try:
            ctx = render.render(sc, v, recipe)
            entry["content_hash"] = ctx.content_hash
            built = self._build(ctx)
            entry["build_seconds"] = built.seconds
            if not built.ok:
                entry["build_log_tail"] = built.log_tail
                return Outcome.ERROR.value, "image build failed: " + (built.log_tail.splitlines() or [""])[-1][:300]
            entry["image_id"] = built.image_id
            mode = runopts.privilege_mode(sc, self.privileged_ok)
            missing = self.record["host"].get("cap_bounding_missing") or []
            opts = runopts.container_options(sc, v, recipe, ctx.tag, self.run_id, mode, missing)
            entry["privilege"] = mode
            entry["docker_command"] = shlex.join(runopts.docker_argv(opts))
            log_path = self.log_dir / f"{sc.name}.{v.name}.{target.suite.replace('/', '_').replace(':', '_')}.log"
            entry["log"] = str(log_path)
            result = execute.run_container(self.client, opts, sc.timeout, log_path,
                                           self.record["host"].get("local_engine", False))
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            return Outcome.ERROR.value, f"engine error: {str(exc).splitlines()[0][:300]}"
        entry.update(attempts=result.attempts, seconds=result.seconds, evidence=result.evidence,
                     versions=result.versions, exit_code=result.exit_code)
        if result.forensics:
            entry["forensics"] = result.forensics
        return result.outcome, result.reason

    def _build(self, ctx):
        if ctx.tag not in self._built:
            self.progress(f"build {ctx.tag} (content {ctx.content_hash})")
            self._built[ctx.tag] = build.build(self.client, ctx, lambda line: self.progress("  " + line))
        return self._built[ctx.tag]


@contextmanager
def _ignoring_signals():
    """Cleanup must finish: a second Ctrl-C during it is ignored."""
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
