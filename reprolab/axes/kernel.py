"""The kernel axis: one variant on guest kernels ordered by release, each probe a guest booted for
it (TCG here: about 50 s before the first run), the variant repeated there until the rule decides."""

import os
import time

from reprolab.guests import kernels, matrix
from reprolab.engines.endpoints import Connected
from reprolab.runs import bisect, hosts, session
from reprolab.runs.bisect import probe_policy


def release_of(choice):
    """The release a Choice names, known before anything is downloaded: a Debian package's upstream
    version (6.1.0-41), a bzImage's own string, or this machine's for `host`."""
    if choice == matrix.HOST:
        return os.uname().release
    if choice.path:
        return kernels.bzimage_release(choice.path)
    return kernels.upstream(choice.package) or choice.package


class KernelAxis:
    name = "kernel"

    def __init__(self, specs, targets, results_dir, argv, cgroup="v2", memory_mb=2048, cpus=2,
                 boot_timeout=300, build_timeout=None, progress=lambda msg: None, choose=kernels.choose,
                 calibrator=None):
        self.specs, self.targets, self.results_dir, self.argv = list(specs), targets, results_dir, argv
        self.cgroup, self.memory_mb, self.cpus = cgroup, memory_mb, cpus
        self.boot_timeout, self.build_timeout, self.progress = boot_timeout, build_timeout, progress
        self._choose = choose
        # runs.calibration.Calibrator: the lab's host measured once, each probe's guest against it, so
        # that a variant's budgets scale with the guest's speed as in `run --kernel` (None: as written)
        self.calibrator = calibrator
        self.releases = {}  # point -> release, once resolved

    def points(self):
        """The specs ordered by release; two specs of one release count once (the first named)."""
        by_release = {}
        for spec in dict.fromkeys(self.specs):
            choice = matrix.HOST if spec == matrix.HOST else self._choose(spec, "", self.progress)
            by_release.setdefault(release_of(choice), spec)
        ordered = sorted(by_release.items(), key=lambda item: kernels.natural(item[0]))
        self.releases = {spec: release for release, spec in ordered}
        return [spec for _, spec in ordered]

    def check(self, target):
        return ""  # every variant runs in a guest: its images travel on the image disk

    def probe(self, point, rule):
        start = time.monotonic()
        prepared = matrix.prepare([point], [self.cgroup], self.targets, self.results_dir, jobs=1,
                                  memory_mb=self.memory_mb, cpus=self.cpus, boot_timeout=self.boot_timeout,
                                  build_timeout=self.build_timeout, progress=self.progress)
        if self.calibrator is not None and prepared.local is not None:  # before the guest loads the host
            self.calibrator.reference(prepared.local, self.progress)

        def make(client, progress, facts):
            connected = Connected(client, facts, prepared.missing if facts.get("guest") else None, prepared.local)
            return session.Session(connected, self.targets, self.results_dir, self.argv, progress,
                                   probe_policy(rule, self.build_timeout), calibrator=self.calibrator)

        out = hosts.run_on_hosts(prepared.endpoints, make, self.progress, on_abort=prepared.stop)
        s, rec, error = out[prepared.endpoints[0].name]
        path = s.writer.path if s is not None and rec is not None else ""
        detail = (rec or {}).get("host", {}).get("kernel") or self.releases.get(point, "")
        return bisect.runs_of(rec, path, time.monotonic() - start, error, detail)

