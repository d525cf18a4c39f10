"""A run's images: every one built before any variant runs (or, on a guest, found where they were
sent), one build per tag however many workers ask, and build failures reported where they happened."""

import threading
import time

from reprolab.engines import build
from reprolab.scenarios import render


class RunImages:
    def __init__(self, client, results_dir, run_id, progress, timeout=build.DEFAULT_TIMEOUT, prebuilt=None):
        self.client, self.results_dir, self.run_id, self.progress = client, results_dir, run_id, progress
        self.timeout = timeout
        # {tag: why it is missing or ''}: built on the lab's own engine and sent here; never build
        self.prebuilt = prebuilt
        self.bases = {}
        self._lock = threading.Lock()
        self._locks = {}
        self._built = {}
        self._errors = {}  # {tag: the engine's failure under its build}: that variant's error
        self.spans = {}  # {tag: (start, end) on time.monotonic()}: which runs a build ran beside

    def build_first(self, targets, skip):
        """Every image of the run, built before any variant runs: suites in parallel (build.lanes),
        so that no build shares the cores with a race's exposure (results say so in built_beside).
        Targets that `skip` (a prerequisite is missing) are not built."""
        for tb in build.build_all(self.client, targets, self.bases, self.progress, timeout=self.timeout, skip=skip):
            if tb.built is None and tb.error is None:
                continue  # its base is missing: the variant says so when it runs
            self.spans[tb.tag] = tb.span
            if tb.error is not None:
                self._errors[tb.tag] = tb.error
                continue
            self._note(tb.target, tb.tag, tb.built)
            self._built[tb.tag] = (tb.ctx, tb.built)

    def get(self, target):
        """(context, Built) of `target`, built once per image tag however many workers ask."""
        tag = render.image_tag(target.scenario, target.variant, target.recipe)
        with self._lock:
            lock = self._locks.setdefault(tag, threading.Lock())
        with lock:
            if tag not in self._built and self.prebuilt is not None:
                self._built[tag] = build.sent_target(self.client, target, self.bases[target.recipe.base],
                                                     self.prebuilt.get(tag))
            if tag in self._errors:
                raise self._errors[tag]
            if tag not in self._built:
                start = time.monotonic()
                ctx, built = build.build_target(self.client, target, self.bases[target.recipe.base], self.progress,
                                                timeout=self.timeout)
                self.spans[tag] = (start, time.monotonic())
                self._note(target, tag, built)
                self._built[tag] = (ctx, built)
            return self._built[tag]

    def engine_back(self):
        """The engine went away and answers again: the failures it gave while away (every build in
        that time fails) are forgotten, so a later variant of those images builds them again instead
        of inheriting an error of the engine's absence. A variant that already got one keeps it."""
        with self._lock:
            self._errors.clear()

    def log_name(self, target):
        """The build log's path relative to the results folder: logs/<run>/<scenario>.<variant>.<suite>.build.log"""
        suite = target.point.replace('/', '_').replace(':', '_')
        return f"logs/{self.run_id}/{target.scenario.name}.{target.variant.name}.{suite}.build.log"

    def _note(self, target, tag, built):
        if not built.ok:
            self._report_failure(target, tag, built)
        elif built.steps:
            self.progress(f"built {tag} in {built.seconds:.1f}s ({built.cached_steps}/{built.steps} steps cached)")

    def _report_failure(self, target, tag, built):
        """Save the whole build log; say on the console where it failed, what the compiler said last
        (plain text: the engine's colour codes are stripped) and where the whole log is."""
        lines = [f"build of {tag} FAILED" + (f" at {built.failed_step}" if built.failed_step else "")]
        lines += [f"  | {ln}" for ln in (build.cause(built, lines=12) or built.log_tail.splitlines()[-3:])]
        last = (built.log_tail.splitlines() or [""])[-1]
        if last and f"  | {last}" not in lines:
            lines.append(f"  | {last}")
        if built.log:
            path = self.results_dir / self.log_name(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(built.log)
            lines.append(f"  whole build log: {path}")
        self.progress("\n".join(lines))


def failure_reason(built):
    """The reason of a failed build: the step, what the compiler said last, and the engine's word."""
    last = (built.log_tail.splitlines() or [""])[-1]
    if last.startswith("build timed out"):  # the lab stopped it: the step's own last words are not the cause
        return f"image build failed: {last[:300]}"
    said = [ln for ln in build.cause(built) if ln != last]  # the engine's own word, when it is the last line, once
    where = f" in {built.failed_step[:200]}" if built.failed_step else ""
    return (f"image build failed{where}: " + (f"{said[0][:300]} ({last[:200]})" if said else last[:300]))
