"""The engine calls one variant costs: create, start, wait, one logs read, remove; nothing else
(no inspect after create, no inspect before each logs read, no second logs pass)."""

import pytest

from conftest import FIXTURES
from reprolab.runs import execute, runopts
from reprolab.scenarios import catalog, selection
from reprolab.common.outcome import Outcome

pytestmark = pytest.mark.docker


def test_a_variant_with_a_verdict_makes_five_engine_calls(client, outcome_images, tmp_path, monkeypatch):
    target = selection.select(catalog.load_all(str(FIXTURES / "scenarios")), ["outcomes:present"], ["bookworm"])[0]
    sc, v, recipe = target.scenario, target.variant, target.recipe
    tag = outcome_images["present"]
    opts = runopts.container_options(sc, v, recipe, tag, "engine-calls-test",
                                     runopts.privilege_mode(sc, True))
    calls = []
    request = client.api.request

    def counted(method, url, *args, **kwargs):
        tail = url.split("/containers/", 1)[-1].split("?")[0]
        calls.append(f"{method} " + (tail if tail == "create" else tail.split("/", 1)[1] if "/" in tail else "container"))
        return request(method, url, *args, **kwargs)

    monkeypatch.setattr(client.api, "request", counted)
    result = execute.run_container(client, opts, 30, tmp_path / "v.log", True)
    monkeypatch.undo()
    assert result.outcome == Outcome.REPRODUCED.value
    assert calls == ["POST create", "POST start", "POST wait", "GET logs", "DELETE container"]
    assert (tmp_path / "v.log").read_bytes().count(b"REPROLAB-RESULT") == 1
