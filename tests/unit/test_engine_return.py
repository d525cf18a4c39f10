"""A run whose engine went away waits (bounded) for it, then removes what it could not remove."""

import docker

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
