"""The bad-input corpus: every file gives exactly its expected 'file:line: message' lines."""

from pathlib import Path

import pytest

from reprolab.scenarios import catalog
from reprolab.common.errors import ScenarioError

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
EXPECTED = {}
for line in (BAD / "expected.txt").read_text().splitlines():
    EXPECTED.setdefault(line.split(":", 1)[0], []).append(line)


def test_corpus_is_large_enough():
    assert len(list(BAD.glob("*.yaml"))) >= 30
    assert sorted(EXPECTED) == sorted(p.name for p in BAD.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file(name, monkeypatch):
    monkeypatch.chdir(BAD)
    with pytest.raises(ScenarioError) as exc:
        catalog.load_one(name)
    assert exc.value.problems == EXPECTED[name]


def test_the_whole_folder_reports_every_file(monkeypatch):
    monkeypatch.chdir(BAD)
    with pytest.raises(ScenarioError) as exc:
        catalog.load_all(".")
    assert sorted(exc.value.problems) == sorted(line for lines in EXPECTED.values() for line in lines)
