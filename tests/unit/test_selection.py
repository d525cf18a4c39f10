from pathlib import Path

import pytest

from reprolab.scenarios import catalog, selection
from reprolab.common.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"


def scenarios():
    return catalog.load_all(FIXTURES)


def test_all_and_single_variant():
    keys = [t.key for t in selection.select(scenarios(), ["all"])]
    assert keys[0] == "containment:fork-bomb@bookworm" and len(keys) == 9
    keys = [t.key for t in selection.select(scenarios(), ["outcomes"])]
    assert keys[0] == "outcomes:present@bookworm" and len(keys) == 5
    assert [t.key for t in selection.select(scenarios(), ["outcomes:absent"])] == ["outcomes:absent@bookworm"]


def test_suite_filter_keeps_registry_images():
    keys = [t.key for t in selection.select(scenarios(), ["outcomes"], ["trixie"])]
    assert keys == ["outcomes:offline-image@reprolab-test/not-on-any-engine:1"]


def test_unknown_names_say_what_exists():
    with pytest.raises(UserError) as exc:
        selection.select(scenarios(), ["nope"])
    assert str(exc.value) == "nope: no scenario named 'nope'; known: containment, outcomes"
    with pytest.raises(UserError) as exc:
        selection.select(scenarios(), ["outcomes:nope"])
    assert "has no variant 'nope'; known: present, absent, hangs, crashes, offline-image" in str(exc.value)
