"""lab.py bisect's bad input: one clear line, exit 2, before anything is built or booted; and the
kernel axis's order of points (by release, not by name)."""

import pytest

from conftest import ROOT
from reprolab import cli
from reprolab.axes.kernel import KernelAxis
from reprolab.guests.kernels import Choice

KERNEL_STEP = str(ROOT / "tests" / "fixtures" / "kernel-step")


@pytest.mark.parametrize("args,message", [
    (["close-range", "--kernel", "5.10", "--kernel", "6.1"],
     "lab.py: bisect: close-range selects 2 runs (close-range:flag@bookworm, close-range:o-cloexec@bookworm); "
     "bisect walks one variant on one suite: give SCENARIO:VARIANT and --suite"),
    (["close-range:flag"], "lab.py: bisect needs an axis and its points: --kernel K1 --kernel K2 ... or --go A..B"),
    (["close-range:flag", "--kernel", "6.1"],
     "lab.py: bisect needs at least two points on the kernel axis (--kernel A --kernel B ...); got 1 (6.1)"),
    (["close-range:flag", "--kernel", "6.1", "--kernel", "6.1"],
     "lab.py: bisect needs at least two points on the kernel axis (--kernel A --kernel B ...); got 1 (6.1)"),
    (["close-range:flag", "--kernel", "5.10", "--kernel", "6.1", "--end-runs", "50"],
     "lab.py: --end-runs 50 is more than --max-runs 40"),
    (["close-range:flag", "--kernel", "5.10", "--kernel", "6.1", "--max-rate", "0"],
     "lab.py: --confidence and --max-rate must lie between 0 and 1"),
    (["close-range:nope", "--kernel", "5.10", "--kernel", "6.1"],
     "lab.py: close-range:nope: scenario 'close-range' has no variant 'nope'; known: flag, o-cloexec"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert cli.main(["--scenarios", KERNEL_STEP, "bisect", *args]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [message] and out == ""


def fake_choose(spec, modules, progress):
    packages = {"5.10": "linux-image-5.10.0-36-amd64", "bookworm": "linux-image-6.1.0-41-amd64",
                "6.1": "linux-image-6.1.0-41-amd64", "6.12": "linux-image-6.12.48+deb13-amd64",
                "trixie": "linux-image-6.12.48+deb13-amd64", "6.9": "linux-image-6.9.7+bpo-amd64"}
    return Choice(spec, suite="x", package=packages[spec])


def test_kernels_are_ordered_by_release_and_counted_once():
    axis = KernelAxis(["6.12", "5.10", "bookworm", "6.9", "6.1", "trixie"], [], "/nonexistent", [], choose=fake_choose)
    assert axis.points() == ["5.10", "bookworm", "6.9", "6.12"]
    assert axis.releases == {"5.10": "5.10.0-36", "bookworm": "6.1.0-41", "6.9": "6.9.7+bpo", "6.12": "6.12.48+deb13"}
    assert axis.name == "kernel" and axis.check(None) == ""


def test_the_output_names_the_boundary_each_probe_and_the_issue_line():
    from reprolab.runs import bisect
    from reprolab.scenarios import catalog, selection
    outcomes = {"a": (3, 3), "b": (2, 2), "c": (0, 5), "d": (0, 5)}
    probe = lambda point, rule: bisect.Runs(*outcomes[point], outcomes[point][1], 10.0, f"/r/{point}.json",
                                            detail=f"rel-{point}")
    res = bisect.bisect(list("abcd"), probe, bisect.Rule(fast=True), end_runs=3, axis="kernel")
    target = selection.select(catalog.load_all(KERNEL_STEP), ["close-range:flag"])[0]
    text = cli._bisect_text(res, target, "simple", "python lab.py bisect close-range:flag --kernel a --kernel d")
    lines = text.splitlines()
    assert lines[0] == "bisect close-range:flag@bookworm over kernel: 4 points, 4 probes, 15 runs, 40 s"
    assert lines[1].split() == ["kernel", "is", "role", "outcome", "k/N", "[95%]", "runs", "seconds", "record"]
    assert lines[3].split() == ["a", "rel-a", "end", "reproduced", "3/3", "[0.44-1.00]", "3", "10", "/r/a.json"]
    assert [ln.split()[0] for ln in lines[3:7]] == ["a", "d", "b", "c"]  # in the order they were probed
    assert lines[7] == "boundary: reproduced up to kernel b (2/2 [0.34-1.00]); not-reproduced from kernel c (0/5 [0.00-0.43])"
    assert lines[8] == ("issue: `close-range:flag` is reproduced up to kernel b (2/2 [0.34-1.00]) and not-reproduced "
                        "from kernel c (0/5 [0.00-0.43]); bisected over 4 kernel points with 4 probes, 15 runs in "
                        "40 s (`python lab.py bisect close-range:flag --kernel a --kernel d`)")


def test_a_kernel_probe_runs_one_guest_session_until_the_rule_decides(monkeypatch, tmp_path):
    from reprolab.axes import kernel
    from reprolab.runs import bisect
    made = {}

    class Prepared:
        endpoints = [type("Ep", (), {"name": "6.1/v1"})()]
        missing, local, stop = {"tag": ""}, "local-client", staticmethod(lambda: None)

    def prepare(specs, cgroups, targets, results_dir, **kw):
        made["prepare"] = (specs, cgroups, targets, results_dir, kw["boot_timeout"])
        return Prepared()

    def run_on_hosts(endpoints, make_session, progress, on_abort):
        s = make_session("guest-client", progress, {"guest": {"kernel_release": "6.1.0-57-amd64"}})
        made["session"] = s
        rec = {"host": {"kernel": "6.1.0-57-amd64"},
               "results": [{"outcome": "not-reproduced", "reason": ""}] * 2}
        return {"6.1/v1": (s, rec, "")}

    monkeypatch.setattr(kernel.matrix, "prepare", prepare)
    monkeypatch.setattr(kernel.hosts, "run_on_hosts", run_on_hosts)
    axis = KernelAxis(["6.1"], ["target"], str(tmp_path), ["lab.py", "bisect"], cgroup="v1", boot_timeout=900)
    rule = bisect.Rule(cap=7, fast=True, exclude=0.72)
    got = axis.probe("6.1", rule)
    assert made["prepare"] == (["6.1"], ["v1"], ["target"], str(tmp_path), 900)
    s = made["session"]
    assert (s.policy.repeat, s.policy.until_decided, s.policy.stop) == (7, True, rule.done)
    assert (s.connected.prebuilt, s.connected.base_source) == ({"tag": ""}, "local-client")
    assert (got.k, got.n, got.runs, got.detail, got.record) == (0, 2, 2, "6.1.0-57-amd64", str(s.writer.path))
    assert s.calibrator is None  # no calibrator given: budgets as written


def test_a_kernel_probe_measures_the_labs_host_first_and_scales_the_guests_budgets(monkeypatch, tmp_path):
    """bisect --kernel, like run --kernel: the lab's host is measured before the guest runs (the
    reference), and the guest's session gets the same calibrator (its speed, its scaled budgets)."""
    from reprolab.axes import kernel
    from reprolab.runs import bisect
    order = []

    class Calibrator:
        def reference(self, client, progress=None, owner=None):
            order.append(("reference", client))

    class Prepared:
        endpoints = [type("Ep", (), {"name": "6.1/v2"})()]
        missing, local, stop = {}, "local-client", staticmethod(lambda: None)

    def run_on_hosts(endpoints, make_session, progress, on_abort):
        s = make_session("guest-client", progress, {"guest": {"kernel_release": "6.1.0-57-amd64"}})
        order.append(("session", s.calibrator))
        return {"6.1/v2": (s, {"host": {}, "results": [{"outcome": "reproduced", "reason": ""}]}, "")}

    monkeypatch.setattr(kernel.matrix, "prepare", lambda *a, **kw: Prepared())
    monkeypatch.setattr(kernel.hosts, "run_on_hosts", run_on_hosts)
    cal = Calibrator()
    axis = KernelAxis(["6.1"], ["target"], str(tmp_path), ["lab.py", "bisect"], calibrator=cal)
    axis.probe("6.1", bisect.Rule(cap=3))
    assert order == [("reference", "local-client"), ("session", cal)]


def test_points_that_look_like_numbers_are_printed_as_given():
    from reprolab.runs import bisect
    from reprolab.scenarios import catalog, selection
    probe = lambda point, rule: bisect.Runs(*((1, 1) if point == "5.10" else (0, 35)), 1 if point == "5.10" else 35, 1.0)
    res = bisect.bisect(["5.10", "6.1"], probe, bisect.Rule(), axis="kernel")
    target = selection.select(catalog.load_all(KERNEL_STEP), ["close-range:flag"])[0]
    rows = cli._bisect_text(res, target, "simple", "x").splitlines()[3:5]
    assert [r.split()[0] for r in rows] == ["5.10", "6.1"]
