"""What was observed of one variant on one suite: the entries of the newest record that ran it (or of
a given record), the claim a bundle makes from them, and the rate they pool. Reads records only."""

from dataclasses import dataclass
from pathlib import Path

from reprolab.common import stats
from reprolab.common.errors import RecordError, UserError
from reprolab.results import record
from reprolab.scenarios import selection

DECISIVE = ("reproduced", "not-reproduced")


@dataclass(frozen=True)
class Observation:
    """The results of one target in one record (several when the run repeated it)."""

    run_id: str
    record: dict  # the whole record: host facts, bases, command
    entries: tuple  # its result entries of this scenario, variant and suite

    @property
    def outcomes(self):
        return [e["outcome"] for e in self.entries]

    def rate(self):
        """(k, n) of the runs that decided: reproduced k times of n reproduced or not-reproduced."""
        ran = [o for o in self.outcomes if o in DECISIVE]
        return sum(o == "reproduced" for o in ran), len(ran)

    def rate_cell(self):
        k, n = self.rate()
        return stats.rate_cell(k, n) if n else ""


def decided(observation):
    """Whether the record's outcomes make the claim (else the expectation does)."""
    outcomes = observation.outcomes
    k, n = observation.rate()
    return bool(outcomes) and (n == len(outcomes) or all(o == "hang" for o in outcomes))


def claim(variant, observation):
    """The outcome a bundle says `sh run.sh` gives: what the record observed when it decided (a
    race reproduced in k of N runs claims `reproduced`; all hangs claim `hang`), else the
    scenario's expectation (not run yet, or the record has only skips and errors)."""
    if observation is None or not decided(observation):
        return variant.expect
    k, n = observation.rate()
    if n:
        return "reproduced" if k else "not-reproduced"
    return "hang"


def _entries(rec, target):
    """The entries of the target's scenario, variant, suite and releases (a run over --go 1.21..1.27
    holds one point per release: only this bundle's release is its evidence)."""
    return tuple(r for r in rec.get("results", []) if selection.result_key(r) == target.key)


def newest(results_dir, target):
    """The Observation of `target` in the newest record of `results_dir` that ran it (records of the
    reference/ folder when the folder itself has none), or None: not run yet."""
    for folder in (Path(results_dir), Path(results_dir) / record.REFERENCE):
        best = None
        for path in record.list_records(folder):
            try:
                rec = record.load(path)
            except RecordError:
                continue  # a broken record is not this variant's evidence; `lab.py show` names it
            entries = _entries(rec, target)
            if entries and (best is None or (rec["started"], rec["run_id"]) > (best.record["started"], best.run_id)):
                best = Observation(rec["run_id"], rec, entries)
        if best is not None:
            return best
    return None


def given(results_dir, run, target):
    """The Observation of `target` in the record `run` (an id or a path); refused when that record
    did not run it."""
    path = record.find(results_dir, run)
    rec = record.load(path)
    entries = _entries(rec, target)
    if not entries:
        raise UserError(f"--record {run}: run {rec['run_id']} has no result of {target.key}; "
                        f"choose a run that ran it (lab.py show --list) or leave --record out")
    return Observation(rec["run_id"], rec, entries)
