"""matrix: Endpoints.slot bounds engines in use and records who ran beside whom; the plan's checks."""

import threading

import pytest

from reprolab.guests import matrix
from reprolab.common.errors import UserError


def occupy(shared, name, beside, inside, leave):
    with shared.slot(name, beside):
        inside.set()
        assert leave.wait(30)


def test_overlapping_endpoints_record_each_other():
    shared = matrix.Endpoints(jobs=2)
    a_beside, b_beside = [], []
    a_in, b_in, leave = threading.Event(), threading.Event(), threading.Event()
    a = threading.Thread(target=occupy, args=(shared, "5.10/v1", a_beside, a_in, leave))
    b = threading.Thread(target=occupy, args=(shared, "6.1/v2", b_beside, b_in, leave))
    a.start()
    assert a_in.wait(30)
    b.start()
    assert b_in.wait(30)  # both hold a slot at once
    leave.set()
    a.join(30)
    b.join(30)
    assert a_beside == ["6.1/v2"] and b_beside == ["5.10/v1"]
    assert shared.active == {}
    later = []
    with shared.slot("host", later):
        pass
    assert later == []  # the two had left: nobody beside it


def test_one_job_never_overlaps():
    shared = matrix.Endpoints(jobs=1)
    a_beside, b_beside = [], []
    a_in, b_in, leave_a, leave_b = (threading.Event() for _ in range(4))
    b_started = threading.Event()

    def second():
        b_started.set()
        occupy(shared, "6.1/v2", b_beside, b_in, leave_b)

    a = threading.Thread(target=occupy, args=(shared, "5.10/v1", a_beside, a_in, leave_a))
    b = threading.Thread(target=second)
    a.start()
    assert a_in.wait(30)
    b.start()
    assert b_started.wait(30)
    # while the first holds the only slot, there is none to take, and the second is not inside
    assert shared.slots.acquire(blocking=False) is False
    assert not b_in.is_set()
    assert list(shared.active) == ["5.10/v1"]
    leave_a.set()
    assert b_in.wait(30)
    assert list(shared.active) == ["6.1/v2"]
    leave_b.set()
    a.join(30)
    b.join(30)
    assert a_beside == [] and b_beside == []
    assert shared.active == {}


def test_a_slot_is_given_back_when_its_endpoint_fails():
    shared = matrix.Endpoints(jobs=1)
    with pytest.raises(RuntimeError):
        with shared.slot("6.12/v1", []):
            raise RuntimeError("boot failed")
    assert shared.active == {}
    assert shared.slots.acquire(blocking=False) is True


def test_a_plan_rejects_a_bad_cgroup_before_choosing_kernels(monkeypatch):
    def never(*a, **k):
        raise AssertionError("no kernel is looked up for a bad --cgroup")
    monkeypatch.setattr(matrix.kernels, "choose", never)
    with pytest.raises(UserError) as exc:
        matrix.Plan(["6.1"], ["v2", "v3"])
    assert str(exc.value) == "--cgroup v3: choose v1 or v2"


def test_a_plan_of_host_only_boots_nothing():
    plan = matrix.Plan(["host", "host"], [])
    assert plan.entries == [("host", None)] and plan.guests == []


def test_a_plan_chooses_every_kernel_before_fetching_any(monkeypatch):
    calls = []

    def choose(spec, modules, progress):
        calls.append(("choose", spec))
        if spec == "4.19":
            raise UserError("--kernel 4.19: unknown kernel")
        return spec

    monkeypatch.setattr(matrix.kernels, "choose", choose)
    monkeypatch.setattr(matrix.kernels, "fetch", lambda c, p: calls.append(("fetch", c)) or f"K{c}")
    with pytest.raises(UserError):
        matrix.Plan(["6.1", "4.19"], ["v1"])
    assert calls == [("choose", "6.1"), ("choose", "4.19")]  # an unknown name fails before any download
    calls.clear()
    plan = matrix.Plan(["6.1", "host", "5.10", "6.1"], ["v1", "v2", "v1"])
    assert plan.entries == [("host", None), ("K6.1", "v1"), ("K6.1", "v2"), ("K5.10", "v1"), ("K5.10", "v2")]
    assert plan.guests == plan.entries[1:]
    assert calls == [("choose", "6.1"), ("choose", "5.10"), ("fetch", "6.1"), ("fetch", "5.10")]
