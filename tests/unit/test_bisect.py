"""The bisection on synthetic axes: each point has a true rate, a probe draws runs from it until the
rule says stop, exactly as an axis repeats a variant in a session."""

import math
import random

import pytest

from reprolab.common.errors import UserError
from reprolab.runs import bisect
from reprolab.runs.bisect import Rule, Runs


class Synthetic:
    """rates[i]: the chance that one run at point i reproduces; a string: what every run gives; a
    pair (rate, lost): a share of runs gives no verdict (counted as runs, not in k/N, as a hang)."""

    def __init__(self, rates, seed=1):
        self.points = [f"p{i}" for i in range(len(rates))]
        self.rates = dict(zip(self.points, rates))
        self.rng = random.Random(seed)
        self.calls = []

    def probe(self, point, rule):
        self.calls.append((point, rule))
        rate = self.rates[point]
        if isinstance(rate, str):
            return Runs(0, 0, 1, 1.0, f"rec-{point}", other=rate, reason=f"{rate} at {point}")
        rate, lost = rate if isinstance(rate, tuple) else (rate, 0.0)
        k = n = runs = 0
        while not rule.done(k, n) and runs < rule.cap:  # as a session of `repeat` = cap
            runs += 1
            if self.rng.random() < lost:
                continue
            n += 1
            k += self.rng.random() < rate
        return Runs(k, n, runs, float(runs), f"rec-{point}")

    def run(self, rule=Rule(), end_runs=None):
        return bisect.bisect(self.points, self.probe, rule, end_runs, axis="go")


@pytest.mark.parametrize("n_points,step", [(2, 1), (3, 1), (3, 2), (7, 4), (26, 1), (26, 9), (26, 25), (33, 17)])
def test_a_monotonic_axis_finds_its_step_within_the_probe_budget(n_points, step):
    axis = Synthetic([1.0 if i >= step else 0.0 for i in range(n_points)])
    res = axis.run()
    assert res.status == "found"
    assert (res.last.point, res.first.point) == (f"p{step - 1}", f"p{step}")
    assert (res.last.outcome, res.first.outcome) == ("not-reproduced", "reproduced")
    assert len(res.probes) <= math.ceil(math.log2(n_points)) + 2
    assert len(res.probes) <= bisect.max_probes(n_points)
    assert [p.role for p in res.probes[:2]] == ["end", "end"]
    assert [p.point for p in res.probes[:2]] == ["p0", f"p{n_points - 1}"]  # both ends first
    assert res.runs == sum(p.runs for p in res.probes) and res.seconds == res.runs
    assert [p.record for p in res.probes] == [f"rec-{p.point}" for p in res.probes]  # one record per probe


def test_the_boundary_may_go_either_way():
    res = Synthetic([1.0] * 5 + [0.0] * 8).run()
    assert res.status == "found" and (res.last.point, res.first.point) == ("p4", "p5")
    assert (res.last.outcome, res.first.outcome) == ("reproduced", "not-reproduced")


def test_probes_are_decided_by_intervals_not_by_one_run():
    res = Synthetic([0.0] * 6 + [1.0] * 6).run()
    for p in res.probes:  # as run --until-decided: absent once the interval's top is below --max-rate
        assert (p.outcome, p.k, p.n) in (("not-reproduced", 0, 35), ("reproduced", p.n, p.n))
        assert p.low > 0 if p.outcome == "reproduced" else p.high < 0.1


def test_fast_absence_excludes_a_deterministic_ends_rate():
    res = Synthetic([0.0] * 6 + [1.0] * 6).run(Rule(fast=True))
    first_end, last_end = res.probes[0], res.probes[1]
    # the end without the bug needs its interval's top below --max-rate: 0 of 35
    assert (first_end.k, first_end.n) == (0, 35) and first_end.high < 0.1
    # the reproducing end runs the ends' minimum, so that its rate is measured
    assert (last_end.k, last_end.n) == (10, 10) and last_end.low > 0.7
    for p in res.probes[2:]:
        assert p.n >= 1
        if p.outcome == "not-reproduced":
            # excluded the reproducing end's rate: its top below that end's lower bound
            assert p.high < last_end.low and p.n < 35
        else:
            assert p.low > 0


def test_the_second_end_excludes_the_first_ends_rate():
    axis = Synthetic([1.0, 1.0, 0.0])
    res = axis.run(Rule(fast=True))
    assert axis.calls[0][1].exclude is None
    assert axis.calls[1][1].exclude == pytest.approx(res.probes[0].low)
    assert res.probes[1].n == 2  # 0/2 [0.00-0.66] excludes 10/10 [0.72-1.00]
    assert axis.calls[1][1].least == 1  # only a reproducing end is measured beyond its decision


def test_a_flaky_race_is_bisected_to_its_true_boundary():
    # a race that shows in 30% of runs from p11 on: no probe is decided by a lucky or unlucky run;
    # the reproducing end is flaky (k < N), so absence needs the interval's top below --max-rate
    for seed in range(40):
        axis = Synthetic([0.0] * 11 + [0.3] * 15, seed=seed)
        res = axis.run(Rule(cap=80))
        assert res.status == "found" and (res.last.point, res.first.point) == ("p10", "p11"), seed
        assert all(rule.bar == 0.1 for _, rule in axis.calls)
        assert all(p.high < 0.1 for p in res.probes if p.outcome == "not-reproduced")


def test_an_undecided_probe_is_reported_never_guessed():
    # the ends decide; the middle shows the bug so rarely that 12 runs cannot tell
    axis = Synthetic([0.0, 0.0, 0.0, 0.0, 1.0], seed=3)
    axis.rates["p2"] = 0.0
    res = axis.run(Rule(cap=12), end_runs=12)
    # 0 of 12 has an interval up to 0.24: not below 0.1 (the absent end cannot be decided)
    assert res.status == "undecided"
    assert res.first is None and res.last is None
    assert res.notes == ["the end p0 is undecided (0/12 [0.00-0.24], 12 run(s)); cannot bisect from it"]


def test_an_undecided_middle_probe_narrows_as_far_as_the_evidence_goes():
    # at p2 most runs give no verdict (they hang): its 12 runs leave too few to decide
    axis = Synthetic([1.0, 1.0, (0.0, 1.0), 0.0, 0.0], seed=5)
    res = axis.run(Rule(cap=12, fast=True))
    assert [p.point for p in res.probes] == ["p0", "p4", "p2"]
    p2 = res.probes[2]
    assert p2.outcome == "undecided" and p2.runs == 12 and p2.n == 0 and res.status == "undecided"
    assert res.last is None and res.first is None
    assert res.notes == ["p2 is undecided after 12 run(s) (0/0); the boundary lies between p0 "
                         "(reproduced) and p4 (not-reproduced), not narrowed further: more runs "
                         "(--max-runs) may decide it"]


def test_ends_that_agree_are_refused_with_both_outcomes():
    res = Synthetic([1.0, 0.0, 0.0, 1.0]).run()
    assert res.status == "agree" and len(res.probes) == 2
    assert res.notes == ["both ends are reproduced: p0 1/1 [0.21-1.00], p3 1/1 [0.21-1.00]; "
                         "no boundary to find between them"]
    assert "no boundary (agree; p0: reproduced 1/1 [0.21-1.00], p3: reproduced 1/1 [0.21-1.00])" in \
        bisect.issue_line(res, "s:v")


def test_a_probe_with_neither_ends_outcome_is_a_non_monotonic_axis_said_where():
    res = Synthetic([0.0, 0.0, 0.0, "hang", 1.0, 1.0, 1.0]).run()
    assert res.status == "non-monotonic"
    assert res.notes == ["p3 is hang, neither end's outcome: the axis is not one step between p0 "
                         "(not-reproduced) and p6 (reproduced)"]


def test_a_rate_apart_from_its_ends_is_said_where():
    # reproduced from p6 on, but in 15% of runs near the step and always at the far end: two steps
    axis = Synthetic([0.0] * 6 + [0.15] * 6 + [1.0] * 4, seed=2)
    res = axis.run(Rule(cap=200), end_runs=10)  # the far end's rate measured over 10 runs
    assert res.status == "found"
    far = res.probes[1]
    slow = [p for p in res.probes if p.outcome == "reproduced" and p.high < far.low]
    assert slow, [p.cell for p in res.probes]
    assert any(n.startswith(f"{slow[0].point} reproduces at {slow[0].cell}, apart from the end p15") for n in res.notes)


def test_a_rate_that_varies_misleads_the_fast_bar_and_not_the_default_one():
    # the fast bar (the reproducing end's rate) assumes one rate on that side; --max-rate does not
    rates = [0.0] * 6 + [0.3] * 6 + [1.0] * 4
    strict_wrong = fast_wrong = 0
    for seed in range(30):
        fast = Synthetic(rates, seed=seed).run(Rule(cap=80, fast=True))
        strict = Synthetic(rates, seed=seed).run(Rule(cap=80))
        fast_wrong += fast.status == "found" and fast.first.point != "p6"
        strict_wrong += strict.status == "found" and strict.first.point != "p6"
    assert fast_wrong >= 15 and strict_wrong == 0  # 20 and 0 of these 30 seeds


def test_an_error_at_an_end_stops_before_any_halving():
    res = Synthetic(["error", 0.0, 1.0]).run()
    assert res.status == "error" and len(res.probes) == 2
    assert res.notes == ["the end p0 is error (0/0, 1 run(s)): error at p0; cannot bisect from it"]


def test_fewer_than_two_points_is_one_line():
    with pytest.raises(UserError) as exc:
        bisect.bisect(["6.1"], lambda p, r: None, axis="kernel")
    assert str(exc.value) == "bisect needs at least two points on the kernel; got 1 (6.1)"


def test_the_rule_is_run_until_decided_when_nothing_is_known():
    from reprolab.common import stats
    r = Rule()
    for k, n in [(0, 1), (1, 1), (0, 34), (0, 35), (2, 7)]:
        assert (r.decide(k, n) is not None) == stats.decided(k, n)


@pytest.mark.parametrize("kwargs,message", [
    ({"max_rate": 0}, "--confidence and --max-rate must lie between 0 and 1"),
    ({"confidence": 1}, "--confidence and --max-rate must lie between 0 and 1"),
    ({"cap": 5, "least": 10}, "runs per probe: at least 10, at most 5: the cap must be positive and not below "
                              "the ends' runs"),
])
def test_a_bad_rule_is_refused(kwargs, message):
    with pytest.raises(UserError) as exc:
        Rule(**kwargs)
    assert str(exc.value) == message


def test_the_issue_line_names_both_sides():
    res = Synthetic([0.0, 0.0, 1.0, 1.0]).run(Rule(fast=True))
    line = bisect.issue_line(res, "pidfd-leak:findprocess", "python lab.py bisect pidfd-leak:findprocess --go 1.21..1.27")
    assert line.startswith("`pidfd-leak:findprocess` is not-reproduced up to go p1 (0/2 [0.00-0.66]) and "
                           "reproduced from go p2 (1/1 [0.21-1.00]); bisected over 4 go points with 4 probes, ")
    assert line.endswith("(`python lab.py bisect pidfd-leak:findprocess --go 1.21..1.27`)")


@pytest.mark.parametrize("n_points", [2, 3, 4, 5, 8, 9, 17, 26, 27, 64])
def test_every_boundary_costs_at_most_ceil_log2_n_plus_2_probes(n_points):
    # every step position, both directions: a deterministic bug appearing or disappearing there
    for step in range(1, n_points):
        for before, after in ((0.0, 1.0), (1.0, 0.0)):
            res = Synthetic([before if i < step else after for i in range(n_points)]).run()
            assert res.status == "found" and res.first.index == step and res.last.index == step - 1
            assert len(res.probes) <= math.ceil(math.log2(n_points)) + 2
            assert len({p.point for p in res.probes}) == len(res.probes)  # no point probed twice


def test_fast_absence_falls_back_to_max_rate_once_a_probe_shows_the_rate_is_not_one():
    rates = [0.0] * 6 + [0.3] * 6 + [1.0] * 4
    seen = 0
    for seed in range(30):
        axis = Synthetic(rates, seed=seed)
        res = axis.run(Rule(cap=80, fast=True))
        partial = [i for i, p in enumerate(res.probes) if p.role == "probe" and p.outcome == "reproduced" and p.k < p.n]
        if not partial:
            continue
        seen += 1
        p = res.probes[partial[0]]
        assert any(n.startswith(f"{p.point} reproduces in 1 of {p.n} runs, not in every run as the end p15 "
                                f"(10/10 [0.72-1.00]): later probes need --max-rate for absence") for n in res.notes)
        assert all(rule.bar == 0.1 for _, rule in axis.calls[partial[0] + 1:])
    assert seen >= 3


def test_runs_of_a_session_record():
    rec = {"results": [{"outcome": o, "reason": f"why {o}"} for o in
                       ("not-reproduced", "hang", "reproduced", "not-reproduced")]}
    assert bisect.runs_of(rec, "/r/x.json", 12.5, detail="6.1.0-41-amd64") == \
        Runs(1, 3, 4, 12.5, "/r/x.json", "hang", "why hang", "6.1.0-41-amd64")
    # a session that failed before any run (its host unreachable) is an error of the probe
    assert bisect.runs_of(None, "", 3.0, "engine error: gone") == Runs(0, 0, 0, 3.0, "", "error", "engine error: gone")
    failed = {"results": [{"outcome": "error", "reason": "image build failed"}]}
    assert bisect.runs_of(failed, "/r/y.json", 1.0, "ignored") == Runs(0, 0, 1, 1.0, "/r/y.json", "error", "image build failed")


@pytest.mark.parametrize("n_points,step", [(2, 1), (3, 1), (3, 2), (7, 4), (26, 1), (26, 9), (26, 25), (33, 17)])
def test_each_probe_was_named_ahead_before_the_probe_before_it(n_points, step):
    """`ahead` is told, before each probe, at most two points the search may probe right after it;
    every probe after the first was told before the probe before it (so it was prepared beside that
    probe's build), and telling changes nothing."""
    told, order = [], []
    axis = Synthetic([1.0 if i >= step else 0.0 for i in range(n_points)])

    def probe(point, rule):
        order.append(point)
        return axis.probe(point, rule)

    res = bisect.bisect(axis.points, probe, Rule(), None, axis="go", ahead=lambda pts: told.append(list(pts)))
    plain = Synthetic([1.0 if i >= step else 0.0 for i in range(n_points)]).run()
    assert [(p.point, p.outcome, p.k, p.n) for p in res.probes] == [(p.point, p.outcome, p.k, p.n) for p in plain.probes]
    assert len(told) == len(order) and all(len(t) <= 2 for t in told)
    for i in range(1, len(order)):
        assert order[i] in told[i - 1], (i, order, told)
    assert all(pt not in order[:i + 1] for i, t in enumerate(told) for pt in t)  # never one already probed
