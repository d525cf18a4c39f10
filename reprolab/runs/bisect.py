"""Bisection over an ordered axis: the first point where one variant's outcome changes.

Pure: no engine. An axis (reprolab.axes: kernels today, toolchain releases next) resolves what the
user named into ordered points and measures one point when asked (`probe(point, rule)` → Runs):
it repeats the variant there until `rule.done(k, n)`, and writes one record for that probe.

The search checks both ends first and refuses when they agree; then it halves the range until two
adjacent points differ. Each probe is decided statistically (Rule), never by one run: reproduced
once a run observed the bug (its Wilson interval excludes 0, the absent side's rate); not-reproduced
once its interval's upper bound falls below --max-rate (the rate the reproducing side is taken to
exceed, as `run --until-decided`), or with `fast` below the lower bound of a reproducing end that
reproduced in every run (2 clean runs instead of 35, for bugs that show in every run or never);
undecided when the cap on runs comes first, and an undecided probe stops
the search: the range is narrowed as far as the evidence goes, never guessed. A probe whose
outcome is neither end's (hang, skipped), or whose rate is incompatible with its own side's end,
is said, with where: the axis may not be a single step.
"""

import math
from dataclasses import dataclass, field, replace
from typing import Protocol

from reprolab.common import stats
from reprolab.common.errors import UserError
from reprolab.runs.policy import Policy

REPRODUCED, ABSENT, UNDECIDED, ERROR = "reproduced", "not-reproduced", "undecided", "error"
DECIDED = (REPRODUCED, ABSENT)
DEFAULT_CAP = 40  # 35 runs without the bug are needed before the interval's top falls below 0.1
DEFAULT_END_RUNS = 10  # runs at the ends at least: the reproducing end's rate is the bar of the others


@dataclass(frozen=True)
class Rule:
    """When a probe's runs may stop, and what they then say.

    exclude: the reproducing side's rate that a not-reproduced probe must exclude (that end's
    Wilson lower bound); None while no end is known to reproduce (then --max-rate alone, as
    `run --until-decided`). least: runs before a probe may stop (with `fast`, the ends use it so
    that the reproducing end's rate is measured, not guessed from its first run)."""
    confidence: float = 0.95
    max_rate: float = 0.1
    cap: int = DEFAULT_CAP
    least: int = 1
    exclude: float = None
    fast: bool = False  # not-reproduced also below `exclude` (--fast-absence): see bar

    def __post_init__(self):
        if not 0 < self.confidence < 1 or not 0 < self.max_rate < 1:
            raise UserError("--confidence and --max-rate must lie between 0 and 1")
        if self.cap < 1 or not 1 <= self.least <= self.cap:
            raise UserError(f"runs per probe: at least {self.least}, at most {self.cap}: the cap must be "
                            f"positive and not below the ends' runs")
        if self.exclude is not None and not 0 <= self.exclude <= 1:
            raise UserError(f"a rate to exclude must lie between 0 and 1, not {self.exclude}")

    @property
    def bar(self):
        """A probe's interval must lie below this for it to be not-reproduced: --max-rate, as `run
        --until-decided`; with `fast`, the reproducing end's lower bound when that is higher (valid
        when the bug shows at one rate wherever it shows: a rate of 30% next to an end of 100% is
        then called absent after 2 clean runs half the time)."""
        return max(self.max_rate, self.exclude or 0.0) if self.fast else self.max_rate

    def decide(self, k, n):
        """reproduced, not-reproduced, or None (not yet) for k reproduced of n decided runs."""
        if n == 0:
            return None
        low, high = stats.wilson(k, n, self.confidence)
        if low > 0:
            return REPRODUCED
        if high < self.bar:
            return ABSENT
        return None

    def done(self, k, n):
        """Whether the probe may stop: decided after `least` runs, or at the cap."""
        return n >= self.cap or (n >= self.least and self.decide(k, n) is not None)

    def verdict(self, k, n):
        return self.decide(k, n) or UNDECIDED


class Axis(Protocol):
    """What bisect walks (implementations in reprolab.axes: kernel; a toolchain's releases next).

    name: the axis's word in output and in `compare --by` ("kernel", "go").
    points(): the user's points resolved and ordered (kernels by release, versions as versions);
      raises UserError for an unknown one, before anything is built or booted.
    check(target): why the one variant cannot move along this axis, or "".
    probe(point, rule): run the variant at `point` until rule.done(k, n) or rule.cap runs (a
      session with repeat=rule.cap, until_decided=True, decide=rule.done), writing one record;
      returns its Runs (runs_of turns a session's record into one)."""
    name: str

    def points(self) -> list: ...

    def check(self, target) -> str: ...

    def probe(self, point, rule) -> "Runs": ...


@dataclass(frozen=True)
class Runs:
    """What an axis measured at one point: k reproduced of n runs that decided something, all
    runs made, the seconds it took (boot and builds included), the record it wrote, and the
    outcome that stopped it when a run gave neither (error, hang, skipped) with its reason."""
    k: int
    n: int
    runs: int
    seconds: float
    record: str = ""
    other: str = ""
    reason: str = ""
    detail: str = ""  # what the point really was (the kernel release booted, the version a toolchain reports)

    def __post_init__(self):
        if not 0 <= self.k <= self.n <= self.runs:
            raise ValueError(f"runs: need 0 <= k <= n <= runs, got {self.k}/{self.n} of {self.runs}")


@dataclass(frozen=True)
class Probe:
    point: str
    index: int
    outcome: str  # reproduced, not-reproduced, undecided, or what stopped it (error, hang, skipped)
    k: int
    n: int
    low: float
    high: float
    runs: int
    seconds: float
    record: str = ""
    reason: str = ""
    role: str = "probe"  # "end" for the two ends
    confidence: float = 0.95
    detail: str = ""

    @property
    def cell(self):
        return stats.rate_cell(self.k, self.n, self.confidence) if self.n else "0/0"

    def as_json(self):
        return {"point": self.point, "index": self.index, "role": self.role, "outcome": self.outcome,
                "k": self.k, "n": self.n, "interval": [round(self.low, 4), round(self.high, 4)],
                "runs": self.runs, "seconds": round(self.seconds, 1), "record": self.record,
                "reason": self.reason, "detail": self.detail}


@dataclass
class Bisection:
    """The search's result. status: found (two adjacent points differ), agree (the ends give one
    outcome: refused), undecided (a probe reached its cap), error (a probe could not run), or
    non-monotonic (a probe's outcome is neither end's)."""
    axis: str
    points: list
    probes: list = field(default_factory=list)
    status: str = ""
    last: Probe = None  # the last point with the first end's outcome
    first: Probe = None  # the first point with the other outcome
    notes: list = field(default_factory=list)  # contradictions and narrowings, each saying where

    @property
    def runs(self):
        return sum(p.runs for p in self.probes)

    @property
    def seconds(self):
        return sum(p.seconds for p in self.probes)

    @property
    def ends(self):
        return [p for p in self.probes if p.role == "end"]

    def as_json(self):
        return {"axis": self.axis, "points": list(self.points), "status": self.status,
                "last": self.last.point if self.last else None, "first": self.first.point if self.first else None,
                "probes": [p.as_json() for p in self.probes], "runs": self.runs,
                "seconds": round(self.seconds, 1), "notes": list(self.notes)}


def max_probes(n_points):
    """The most probes a monotonic axis of n points costs: both ends, then one per halving."""
    return 2 + (math.ceil(math.log2(n_points - 1)) if n_points > 2 else 0)


def bisect(points, probe, rule=Rule(), end_runs=None, progress=lambda msg: None, axis="", ahead=None):
    """Search `points` (ordered) with `probe(point, rule) -> Runs`; returns a Bisection. end_runs:
    runs at least at a reproducing first end (default: 10 with a `fast` rule, whose bar is that
    end's rate, else 1). `ahead(points)`, when given, is told before each probe which points the
    search may probe right after it (the other end; the first middle; then the middles of both
    halves, one of which comes next), so that an axis can prepare them beside the probe's build."""
    points = list(points)
    if len(points) < 2:
        raise UserError(f"bisect needs at least two points on the {axis or 'axis'}; got {len(points)}"
                        + (f" ({points[0]})" if points else ""))
    result = Bisection(axis, points)

    def measure(index, r, role="probe", then=()):
        point = points[index]
        if ahead is not None:
            ahead([points[i] for i in then])
        progress(f"bisect: probing {axis} {point} ({role}; runs: at least {r.least}, at most {r.cap}; "
                 f"not-reproduced below {r.bar:.2f})")
        got = probe(point, r)
        if got.other and got.n == 0:
            outcome = got.other
        else:
            outcome = r.verdict(got.k, got.n)
        low, high = stats.wilson(got.k, got.n, r.confidence)
        p = Probe(point, index, outcome, got.k, got.n, low, high, got.runs, got.seconds, got.record,
                  got.reason, role, r.confidence, got.detail)
        result.probes.append(p)
        progress(f"bisect: {axis} {point}: {outcome} {p.cell}, {p.runs} run(s), {p.seconds:.0f} s")
        return p

    # the fast bar is the reproducing end's measured rate: measure it over `end_runs` at least
    if end_runs is None:
        end_runs = DEFAULT_END_RUNS if rule.fast else 1
    end_rule = replace(rule, least=min(max(end_runs, 1), rule.cap), exclude=None)
    last = len(points) - 1
    first_mid = last // 2
    a = measure(0, end_rule, "end", then=[last])
    # the first end's rate, when it reproduces, is the second's bar; only a reproducing end needs `least`
    b_rule = replace(end_rule, exclude=_bar_of(a), least=1) if a.outcome == REPRODUCED else end_rule
    b = measure(last, b_rule, "end", then=[first_mid] if 0 < first_mid < last else [])
    if a.outcome not in DECIDED or b.outcome not in DECIDED:
        result.status = ERROR if ERROR in (a.outcome, b.outcome) else UNDECIDED
        for p in (a, b):
            if p.outcome not in DECIDED:
                result.notes.append(f"the end {p.point} is {p.outcome} ({p.cell}, {p.runs} run(s))"
                                    + (f": {p.reason}" if p.reason else "") + "; cannot bisect from it")
        return result
    if a.outcome == b.outcome:
        result.status = "agree"
        result.notes.append(f"both ends are {a.outcome}: {a.point} {a.cell}, {b.point} {b.cell}; "
                            f"no boundary to find between them")
        return result
    rep = a if a.outcome == REPRODUCED else b
    inner = replace(rule, exclude=_bar_of(rep))
    lo, hi = 0, len(points) - 1
    by_index = {0: a, hi: b}
    while hi - lo > 1:
        mid = (lo + hi) // 2
        p = measure(mid, inner, then=_halves(lo, mid, hi))
        by_index[mid] = p
        if inner.fast and inner.exclude is not None and p.outcome == REPRODUCED and p.k < p.n:
            # the fast bar assumed the bug shows in every run wherever it shows: not so here
            fast = [q.point for q in result.probes if q.outcome == ABSENT and q.high >= rule.max_rate]
            result.notes.append(
                f"{p.point} reproduces in {p.k} of {p.n} runs, not in every run as the end {rep.point} "
                f"({rep.cell}): later probes need --max-rate for absence"
                + (f"; {', '.join(fast)} were called not-reproduced against the end's rate, rerun "
                   f"without --fast-absence if the boundary matters" if fast else ""))
            inner = replace(rule, exclude=None)
        if p.outcome == a.outcome:
            lo = mid
        elif p.outcome == b.outcome:
            hi = mid
        else:
            where = f"between {points[lo]} ({a.outcome}) and {points[hi]} ({b.outcome})"
            if p.outcome == UNDECIDED:
                result.status = UNDECIDED
                result.notes.append(f"{p.point} is undecided after {p.runs} run(s) ({p.cell}); the boundary "
                                    f"lies {where}, not narrowed further: more runs (--max-runs) may decide it")
            elif p.outcome == ERROR:
                result.status = ERROR
                result.notes.append(f"{p.point} gave error ({p.reason or 'no reason'}); the boundary lies {where}")
            else:
                result.status = "non-monotonic"
                result.notes.append(f"{p.point} is {p.outcome}, neither end's outcome: the axis is not one "
                                    f"step {where}")
            return result
    result.status = "found"
    result.last, result.first = by_index[lo], by_index[hi]
    result.notes.extend(_rate_contradictions(result.probes, rep))
    return result


def _halves(lo, mid, hi):
    """The indexes the search probes after `mid` of (lo, hi): the middle of the half it keeps."""
    return [i for i in ((lo + mid) // 2, (mid + hi) // 2) if lo < i < hi and i != mid]


def probe_policy(rule, build_timeout=None):
    """The session policy of one probe: repeat up to the rule's cap, stop once the rule decides."""
    extra = {"build_timeout": build_timeout} if build_timeout else {}
    return Policy(repeat=rule.cap, until_decided=True, confidence=rule.confidence, max_rate=rule.max_rate,
                  stop=rule.done, **extra)


def runs_of(rec, path="", seconds=0.0, error="", detail=""):
    """The Runs of one probe's session record (None when the session never ran): k reproduced of n
    runs with a verdict; the last other outcome (error, skipped, hang) and its reason."""
    results = (rec or {}).get("results", [])
    k = sum(r["outcome"] == REPRODUCED for r in results)
    n = k + sum(r["outcome"] == ABSENT for r in results)
    other = reason = ""
    for r in results:
        if r["outcome"] not in DECIDED:
            other, reason = r["outcome"], r.get("reason", "")
    if error and not other:
        other, reason = ERROR, error
    return Runs(k, n, len(results), seconds, str(path or ""), other, reason, detail)


def _bar_of(rep):
    """The rate the other side must exclude (used by a `fast` rule): the reproducing end's lower
    bound when it reproduced in every run. A flaky end (k < N) gives none: its rate may differ from
    one point to the next, and a probe at a lower rate would be called absent after a few runs."""
    return rep.low if rep.k == rep.n else None


def _rate_contradictions(probes, rep):
    """Reproduced probes whose interval lies apart from the reproducing end's: the bug's rate
    changes along one side, so the axis is more than one step (say where, keep the boundary)."""
    out = []
    for p in probes:
        if p is rep or p.outcome != REPRODUCED:
            continue
        if p.high < rep.low or p.low > rep.high:
            out.append(f"{p.point} reproduces at {p.cell}, apart from the end {rep.point} at {rep.cell}: "
                       f"the rate changes along the reproducing side, the axis may not be a single step")
    return out


def issue_line(result, selector, command=""):
    """One line to paste into an issue, Markdown-friendly."""
    if result.status != "found":
        ends = ", ".join(f"{p.point}: {p.outcome} {p.cell}" for p in result.ends)
        return (f"`{selector}` over {result.axis} {result.points[0]}..{result.points[-1]}: no boundary "
                f"({result.status}; {ends}); {result.runs} run(s) in {_duration(result.seconds)}"
                + (f" (`{command}`)" if command else ""))
    last, first = result.last, result.first
    return (f"`{selector}` is {last.outcome} up to {result.axis} {last.point} ({last.cell}) and "
            f"{first.outcome} from {result.axis} {first.point} ({first.cell}); bisected over "
            f"{len(result.points)} {result.axis} points with {len(result.probes)} probes, {result.runs} runs "
            f"in {_duration(result.seconds)}" + (f" (`{command}`)" if command else ""))


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
