"""The record writer after an interrupt at its worst moment: between creating the file and noting it."""

import json
import os
import signal

import pytest

from reprolab.results import record
from reprolab.runs import session
from reprolab.common.errors import Interrupted

REAL_LINK = os.link


def rec(n):
    return {"kind": record.KIND, "n": n}


def test_interrupt_after_link_then_write_again(tmp_path, monkeypatch):
    def link_then_interrupt(src, dst):
        REAL_LINK(src, dst)
        raise Interrupted(signal.SIGINT)
    w = record.RecordWriter(tmp_path, "R1")
    monkeypatch.setattr(record.os, "link", link_then_interrupt)
    with pytest.raises(Interrupted):
        w.write(rec(1))
    monkeypatch.setattr(record.os, "link", REAL_LINK)
    w.write(rec(2))  # the cleanup's final write: must replace our own file, not fail on it
    assert json.loads((tmp_path / "R1.json").read_text()) == rec(2)
    assert [p.name for p in tmp_path.iterdir()] == ["R1.json"]


def test_interrupt_before_link_does_not_claim_another_runs_file(tmp_path, monkeypatch):
    def interrupt(src, dst):
        raise Interrupted(signal.SIGINT)
    w = record.RecordWriter(tmp_path, "R1")
    monkeypatch.setattr(record.os, "link", interrupt)
    with pytest.raises(Interrupted):
        w.write(rec(1))
    monkeypatch.setattr(record.os, "link", REAL_LINK)
    (tmp_path / "R1.json").write_text("{}")  # another run took the id meanwhile
    with pytest.raises(FileExistsError):
        w.write(rec(2))
    assert (tmp_path / "R1.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["R1.json"]


def test_a_real_signal_during_the_link_waits_until_the_file_is_noted(tmp_path, monkeypatch):
    def link_then_signal(src, dst):
        REAL_LINK(src, dst)
        os.kill(os.getpid(), signal.SIGINT)
    w = record.RecordWriter(tmp_path, "R1")
    monkeypatch.setattr(record.os, "link", link_then_signal)
    with session.interruptible():
        with pytest.raises(Interrupted):
            w.write(rec(1))
    assert w._created
    monkeypatch.setattr(record.os, "link", REAL_LINK)
    w.write(rec(2))
    assert json.loads((tmp_path / "R1.json").read_text()) == rec(2)
    assert [p.name for p in tmp_path.iterdir()] == ["R1.json"]
