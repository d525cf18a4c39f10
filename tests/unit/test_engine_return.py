"""A run whose engine went away waits (bounded) for it, then removes what it could not remove."""

import docker
import pytest
import requests

from reprolab.engines import engine_errors, privilege
from reprolab.engines.endpoints import Connected
from reprolab.runs import session


class API:
    def __init__(self):
        self.removed = []

    def remove_container(self, cid, force=False):
        if cid == "gone":
            raise docker.errors.NotFound("no such container")
        self.removed.append(cid)


class Engine:
    def __init__(self, down_for):
        self.down_for, self.api = down_for, API()

    def ping(self):
        if self.down_for > 0:
            self.down_for -= 1
            raise ConnectionError("engine away")
        return True


def test_the_run_waits_for_the_engine_and_removes_its_leftovers(tmp_path):
    lines = []
    s = session.Session(Connected(Engine(down_for=2)), [], tmp_path, ["lab.py", "run"], lines.append)
    s._leftovers |= {"c1", "gone"}
    assert s._recover_engine(wait=30) is True
    assert s.client.api.removed == ["c1"] and s._leftovers == set()
    (event,) = s.record["engine_interruptions"]
    assert event["answered"] is True and event["leftover_containers"] == 2 and 1 <= event["waited_seconds"] < 30
    assert lines == ["the engine does not answer; waiting up to 30 s for it to return"]


def test_an_engine_that_stays_away_is_given_up_on(tmp_path):
    s = session.Session(Connected(Engine(down_for=100)), [], tmp_path, ["lab.py", "run"])
    s._leftovers.add("c1")
    assert s._recover_engine(wait=1) is False
    assert s._leftovers == {"c1"} and s.record["engine_interruptions"][0]["answered"] is False


def test_an_engine_that_answers_costs_nothing(tmp_path):
    s = session.Session(Connected(Engine(down_for=0)), [], tmp_path, ["lab.py", "run"])
    assert s._recover_engine(wait=30) is True and "engine_interruptions" not in s.record


def test_a_build_error_of_the_engine_s_absence_is_forgotten_once_it_is_back(tmp_path):
    s = session.Session(Connected(Engine(down_for=1)), [], tmp_path, ["lab.py", "run"])
    s.images._errors["reprolab/x:y-bookworm"] = RuntimeError("the engine failed while looking up …")
    assert s._recover_engine(wait=30) is True
    assert s.images._errors == {}  # the next variant of that image builds it again


def test_an_engine_that_never_left_keeps_the_build_errors(tmp_path):
    s = session.Session(Connected(Engine(down_for=0)), [], tmp_path, ["lab.py", "run"])
    s.images._errors["reprolab/x:y-bookworm"] = RuntimeError("a real failure")
    assert s._recover_engine(wait=30) is True and list(s.images._errors) == ["reprolab/x:y-bookworm"]


@pytest.mark.parametrize("failure, down_for, made", [
    (engine_errors.ENGINE_AWAY + " under the calibration (Connection aborted.)", 2, 2),  # back: made again
    (engine_errors.ENGINE_AWAY + " under the probe: reset", 100, 1),  # never back: not again
    ("the calibration did not end within 300 s (read timed out)", 2, 1),  # the engine's answer
    ("", 0, 1),  # it worked
])
def test_a_preparation_step_is_made_again_only_after_the_engine_came_back(tmp_path, failure, down_for, made):
    lines = []
    s = session.Session(Connected(Engine(down_for=down_for)), [], tmp_path, ["lab.py", "run"], lines.append)
    session.recovery.ENGINE_RETURN, saved = 2, session.recovery.ENGINE_RETURN
    try:
        steps = [None for _ in s._once_more_after_an_absence(lambda: failure)]
    finally:
        session.recovery.ENGINE_RETURN = saved
    assert len(steps) == made
    assert ("the engine is back; the step it went away under is made again" in lines) == (made == 2)


@pytest.mark.parametrize("exc, timed_out", [
    (requests.exceptions.ReadTimeout("read timed out"), True),
    (requests.exceptions.ConnectionError("Read timed out. (read timeout=60)"), True),
    (requests.exceptions.ConnectionError(("Connection aborted.", FileNotFoundError(2, "No such file"))), False),
])
def test_a_request_that_timed_out_is_told_from_an_engine_that_went_away(exc, timed_out):
    assert engine_errors.timed_out(exc) is timed_out


def test_the_probe_says_the_engine_went_away_not_that_it_timed_out():
    class Gone:
        def create_host_config(self, **kw):
            return {}

        def create_container(self, *a, **kw):
            raise requests.exceptions.ConnectionError(("Connection aborted.", FileNotFoundError(2, "No such file")))

    class Client:
        api = Gone()

    ok, reason = privilege.probe(Client(), "debian:bookworm")
    assert ok is False and reason.startswith(engine_errors.ENGINE_AWAY + " under the probe: "), reason


def test_the_host_is_measured_again_when_the_engine_went_away_under_its_measurement(monkeypatch):
    from reprolab.runs import calibration
    answers = [{"error": engine_errors.ENGINE_AWAY + " under the calibration (reset)"},
               {"fork_exec_per_s": 2000.0, "cpu_per_s": 2400.0},
               {"fork_exec_per_s": 1.0, "cpu_per_s": 1.0}]
    monkeypatch.setattr(calibration, "_measure", lambda *a: dict(answers.pop(0)))
    monkeypatch.setattr(calibration, "_base_of", lambda client: "debian:bookworm")
    monkeypatch.setattr(calibration, "best_of_boot", lambda measured: dict(measured))
    c = calibration.Calibrator()
    assert "error" in c.reference(None)
    assert c.reference(None)["fork_exec_per_s"] == 2000.0
    assert c.reference(None)["fork_exec_per_s"] == 2000.0 and len(answers) == 1  # once measured, kept
