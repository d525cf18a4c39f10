"""run_on_hosts: every host ends with a result or an error, whatever its thread raised."""

from conftest import FIXTURES
from reprolab.results import record
from reprolab.engines.endpoints import Connected
from reprolab.runs import hosts, session
from reprolab.scenarios import catalog, selection
from reprolab.common.errors import EngineError


def targets():
    return selection.select(catalog.load_all(FIXTURES / "scenarios"), ["outcomes:present", "outcomes:absent"], [])


class FakeSession:
    def __init__(self, fail_with=None):
        self.fail_with, self.failed = fail_with, None

    def run(self):
        if self.fail_with:
            raise self.fail_with
        return {"results": []}

    def fail(self, reason, url):
        self.failed = (reason, url)
        return {"failed": reason}

    def abort(self):
        pass


def connect_ok(url):
    return object()


def test_a_session_that_raises_anything_is_an_error_with_a_record():
    lines = []
    good, bad = FakeSession(), FakeSession(RuntimeError("boom"))
    out = hosts.run_on_hosts(["tcp://a:1"], lambda c, p, f: good, lines.append, connect=connect_ok)
    assert out["tcp://a:1"] == (good, {"results": []}, "")
    out = hosts.run_on_hosts(["tcp://b:2"], lambda c, p, f: bad, lines.append, connect=connect_ok)
    assert out["tcp://b:2"] == (bad, {"failed": "RuntimeError: boom"}, "RuntimeError: boom")
    assert bad.failed == ("RuntimeError: boom", "tcp://b:2")
    assert "b:2 error: RuntimeError: boom" in lines


def test_a_factory_that_raises_is_still_an_error_line():
    lines = []

    def factory(client, progress, facts):
        raise RuntimeError("factory broke")

    out = hosts.run_on_hosts(["tcp://c:3"], factory, lines.append, connect=connect_ok)
    assert out["tcp://c:3"] == (None, None, "RuntimeError: factory broke")
    assert "c:3 error: RuntimeError: factory broke" in lines
    assert any(line.startswith("c:3 error: no record of this host's failure") for line in lines)


def test_a_host_that_cannot_be_reached_gets_a_record_of_errors(tmp_path):
    def refuse(url):
        raise EngineError(f"no Docker engine answers at {url}")

    def factory(client, progress, facts):
        return session.Session(Connected(client), targets(), tmp_path, ["lab.py", "run"], progress)

    out = hosts.run_on_hosts(["tcp://127.0.0.1:1"], factory, lambda msg: None, connect=refuse)
    s, rec, error = out["tcp://127.0.0.1:1"]
    assert error == "no Docker engine answers at tcp://127.0.0.1:1"
    stored = record.load(s.writer.path)
    assert stored == rec
    assert stored["host"]["engine_url"] == "tcp://127.0.0.1:1" and stored["host"]["host_label"] == "127.0.0.1:1"
    assert [(r["variant"], r["outcome"], r["match"], r["reason"]) for r in stored["results"]] == [
        ("present", "error", "no", error), ("absent", "error", "no", error)]
    assert stored["ended"]
