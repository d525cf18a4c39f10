"""Each engine's speed once per run, against the lab's own host, and the Scale its budgets get.

One Calibrator per lab process. The lab's host is measured once (`reference`), before any guest
boots where there are guests (a booting qemu would slow the host it measures); every session then
measures its own engine once and compares. Other engines are compared with the best the host has
shown this boot (cached per boot id: the machine does not change within a boot, but other work on
its cores swung one measurement tenfold within a minute); a run on the host alone is its own
reference. Engines themselves are measured anew each run: a guest is a new boot each time, and a
measurement costs about 2 s on the host (a TCG guest adds the start of one container).
"""

import json
import threading
import time
from pathlib import Path

from reprolab.common import cache, labels as lab_labels
from reprolab.engines import bases as lab_bases, engine_errors, ownership, speed
from reprolab.results import record
from reprolab.runs import budget

PREFERRED_BASES = ("debian:bookworm", "debian:trixie", "debian:bullseye")


class Calibrator:
    def __init__(self, scale=True, timeout=speed.TIMEOUT):
        self.scale = scale  # False: --no-scale (speeds are still measured and recorded)
        self.timeout = timeout  # seconds for one calibration container
        self._lock = threading.Lock()
        self._reference = None

    def reference(self, client, progress=lambda msg: None, owner=None):
        """The lab's host's speed (its engine `client`), measured on first call only: this run's
        measurement, with the best of this boot beside it (`best_of_boot`, what other engines are
        compared with: load from other work makes one measurement of the host swing tenfold within
        a minute, and budgets are written for the host unloaded)."""
        with self._lock:
            # measured again only when the engine went away under the last try (its absence is not a speed)
            if self._reference is None or self._reference.get("error", "").startswith(engine_errors.ENGINE_AWAY):
                self._reference = _measure(client, _base_of(client), progress, owner, True, self.timeout)
                if "error" not in self._reference:
                    self._reference["best_of_boot"] = best_of_boot(self._reference)
                    progress(f"speed of the lab's host: {_rates(self._reference)}; best this boot "
                             f"{_rates(self._reference['best_of_boot'])} (the reference of other engines' budgets)")
            return self._reference

    def known_reference(self):
        return self._reference

    def engine(self, client, host, bases, progress, owner=None, sent=False):
        """host.speed of one session's engine; `host` its facts, `bases` {name: bases.Base} made
        sure of; `sent`: its images come from the lab's engine (a guest), so nothing is built there."""
        local = host.get("local_engine") and not host.get("guest")
        if local:  # the lab's host itself: its measurement is the reference (ratio 1)
            measured = ref = self.reference(client, progress, owner)
        else:
            base = "" if sent else _available_base(bases)
            measured = _measure(client, base, progress, owner, not sent, self.timeout)
            ref = self._reference  # measured by the CLI before the engines started
            if ref is None:
                ref = {"error": "the lab's host was not measured"}
            elif "best_of_boot" in ref:
                ref = ref["best_of_boot"]
        facts = speed.compare(measured, ref)
        scale = budget.scale_of(facts, self.scale)
        facts["scale"] = scale.facts()
        if not local or "error" in facts:  # the host's own line was said when it was measured
            progress(describe(facts, scale))
        return facts, scale


def describe(facts, scale):
    """The progress line of an engine's speed and what it does to the budgets."""
    if "error" in facts:
        return f"speed: not measured ({facts['error']}); budgets stay as written"
    text = f"speed: {_rates(facts)}"
    if "ratio" in facts:
        r = facts["ratio"]
        text += f"; {r['fork_exec']:g}x slower at fork+exec, {r['cpu']:g}x at computing than the lab's host"
    if scale.factor > 1:
        text += f"; budgets x{scale.factor:g}" + (f" (capped; measured {scale.slowdown:g}x)" if scale.capped else "")
    elif scale.unscaled:
        text += f"; budgets stay as written ({scale.unscaled})"
    return text


def best_of_boot(measured, boot_id=None):
    """The best fork+exec and CPU rates the lab's host has shown since it booted, this measurement
    included (cached per boot and calibration program: the machine does not change within a boot,
    its load does); the cache file is updated. A cache that cannot be read or written is ignored."""
    boot_id = boot_id or _boot_id()
    path = cache.root() / "speed" / f"host-{boot_id}-{speed.context('debian:bookworm').content_hash}.json"
    best = {}
    try:
        best = json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    out = {}
    for key in ("fork_exec_per_s", "cpu_per_s"):
        prior = best.get(key) if isinstance(best.get(key), (int, float)) else 0
        out[key] = max(measured[key], prior)
    out["samples"] = int(best.get("samples") or 0) + 1  # measurements of this boot it is the best of
    out["updated"] = measured.get("measured", "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(path)
    except OSError:
        pass
    return out


def _boot_id():
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _rates(m):
    return f"{m['fork_exec_per_s']:g} fork+exec/s, {m['cpu_per_s']:g} CPU loops/s"


def _measure(client, base, progress, owner, build, timeout):
    """One calibration on `client`; the image built there from `base` first when `build`."""
    if build:
        base_id = lab_bases.image_id(client, base) if base else ""
        if not base_id:
            return {"error": "no Debian base image on this engine to build the calibration image from"}
        _, why = speed.ensure_image(client, base, base_id, lambda line: None)
        if why:
            return {"error": why}
    elif not speed.present(client):
        return {"error": f"the calibration image {speed.TAG} was not sent to this engine"}
    # owned like every container of the lab, so `clean` can tell when it is a stray
    labels = {**ownership.owner_labels(), lab_labels.RUN: "calibration", **(owner or {})}
    out = speed.measure(client, labels, timeout=timeout)
    out["measured"] = record.utc(time.time())
    return out


def _base_of(client):
    for name in PREFERRED_BASES:
        if lab_bases.image_id(client, name):
            return name
    return ""


def _available_base(bases):
    available = {name for name, b in (bases or {}).items() if b.available and name.startswith("debian:")}
    return next((n for n in PREFERRED_BASES if n in available), next(iter(sorted(available)), ""))
