import json
from pathlib import Path

import pytest

from reprolab.results import record, table
from reprolab.runs import session
from reprolab.common.errors import RecordError

ROOT = Path(__file__).resolve().parents[2]


def sample(run_id="R1", results=None):
    return {"kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": run_id, "started": "x",
            "interrupted": False, "host": {"kernel": "6.1.0", "cgroup": "v2", "engine": "20.10"},
            "privileged_mode": "emulated",
            "results": results if results is not None else [
                {"scenario": "s", "variant": "v", "suite": "bookworm", "outcome": "reproduced",
                 "expected": "reproduced", "match": "yes", "attempts": 2, "seconds": 1.25, "model": True},
                {"scenario": "s", "variant": "w", "suite": "trixie", "outcome": "skipped",
                 "expected": "reproduced", "match": "skip", "attempts": 0, "seconds": 0}]}


def test_writer_creates_then_replaces_its_own_file(tmp_path):
    w = record.RecordWriter(tmp_path, "R1")
    w.write(sample())
    w.write(sample(results=[]))
    assert record.load(tmp_path / "R1.json")["results"] == []
    assert [p.name for p in tmp_path.iterdir()] == ["R1.json"]  # no temp files left


def test_writer_never_overwrites_another_run(tmp_path):
    (tmp_path / "R1.json").write_text("{}")
    with pytest.raises(FileExistsError):
        record.RecordWriter(tmp_path, "R1").write(sample())
    assert (tmp_path / "R1.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["R1.json"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a JSON record"),
    ('{"kind": "junit"}', 'not a reprolab run record (no "kind": "reprolab-run")'),
    ('{"kind": "reprolab-run", "schema_version": 99}', "record schema version 99; this lab reads version 1"),
    ('[1, 2]', "not a reprolab run record"),
])
def test_load_errors_name_the_file(tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(RecordError) as exc:
        record.load(p)
    assert str(exc.value).startswith(f"{p}: ") and message in str(exc.value)


def test_committed_reference_record_validates():
    ref = sorted((ROOT / "results" / "reference").glob("*.json"))
    assert ref
    for p in ref:
        assert record.schema_problems(json.loads(p.read_text())) == [], p
        assert record.load(p)["kind"] == record.KIND


def test_samples_of_the_lab_validate():
    assert record.schema_problems(sample()) == []


def test_a_record_missing_a_key_is_named_by_file_and_field(tmp_path):
    rec = sample()
    del rec["results"][1]["outcome"]
    p = tmp_path / "x.json"
    p.write_text(json.dumps(rec))
    with pytest.raises(RecordError) as exc:
        record.load(p)
    assert str(exc.value) == f"{p}: results[1].outcome: missing; repair the record or remove it"


def test_every_problem_of_a_record_is_named_up_to_three(tmp_path):
    rec = sample(results=[dict(sample()["results"][0]) for _ in range(12)])
    rec["results"][10]["attempts"] = "x"
    rec["results"][2]["match"] = "maybe"
    rec["results"][3]["model"] = 1
    rec["host"] = []
    del rec["started"]
    assert record.schema_problems(rec) == [
        "host: [] is not of type object", "results[2].match: 'maybe' is not one of yes, no, skip",
        "results[3].model: 1 is not of type boolean", "results[10].attempts: 'x' is not of type integer",
        "started: missing"]
    p = tmp_path / "x.json"
    p.write_text(json.dumps(rec))
    with pytest.raises(RecordError) as exc:
        record.load(p)
    assert str(exc.value) == (f"{p}: host: [] is not of type object; results[2].match: 'maybe' is not one of "
                              f"yes, no, skip; results[3].model: 1 is not of type boolean (and 2 more); "
                              f"repair the record or remove it")


def test_show_of_a_record_missing_a_key_is_one_line_not_a_traceback(tmp_path, capsys):
    from reprolab import cli
    rec = sample("20260101T000000Z-aaaaaa")
    del rec["results"][0]["scenario"]
    (tmp_path / "20260101T000000Z-aaaaaa.json").write_text(json.dumps(rec))
    assert cli.main(["--results", str(tmp_path), "show"]) == 2
    err = capsys.readouterr().err
    assert err == (f"lab.py: {tmp_path}/20260101T000000Z-aaaaaa.json: results[0].scenario: missing; "
                   f"repair the record or remove it\n")


def test_find_newest_and_by_prefix(tmp_path):
    for rid in ("20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"):
        (tmp_path / f"{rid}.json").write_text(json.dumps(sample(rid)))
    assert record.find(tmp_path).name == "20260102T000000Z-bbbbbb.json"
    assert record.find(tmp_path, "20260101").name == "20260101T000000Z-aaaaaa.json"
    with pytest.raises(RecordError):
        record.find(tmp_path, "2025")


def test_run_ids_are_unique_and_sortable():
    ids = {record.new_run_id(0) for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("19700101T000000Z-") for i in ids)


def test_table_and_summary():
    rec = sample()
    text = table.run_table(rec, "github")
    assert "| s          | v         | bookworm | reproduced (model) | reproduced | yes     |          2 | 1.2s   |" in text
    assert table.summary(rec).startswith("2 variants: 1 as expected, 0 differ, 1 skipped  |  kernel 6.1.0, cgroup v2")


def test_unknown_table_format():
    with pytest.raises(Exception) as exc:
        table.check_format("nope")
    assert "unknown table format 'nope'" in str(exc.value)


def test_exit_codes():
    rec = sample()
    assert session.exit_code(rec) == 0
    assert session.exit_code(rec, strict=True) == 1
    rec["results"][0]["match"] = "no"
    assert session.exit_code(rec) == 1
    rec["interrupted"] = True
    assert session.exit_code(rec) == 130


def _paths(value, prefix=()):
    """Every (path, value) inside a JSON value, the value itself first."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _replaced(data, path, new):
    data = json.loads(json.dumps(data))
    target = data
    for part in path[:-1]:
        target = target[part]
    if new is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return data


def test_fast_schema_walk_agrees_with_jsonschema():
    # the walk that says "valid" before jsonschema runs must never pass what jsonschema refuses: every
    # field of real records replaced by values of every JSON type, or removed, is judged alike
    import report_records
    ref = record.load(record.list_records(ROOT / "results" / "reference")[0])
    ref = dict(ref, results=ref["results"][:3])
    guest = report_records.records()[1]
    validator = record._validator()
    judged = {True: 0, False: 0}
    for base in (sample(), ref, guest):
        assert record._conforms(base)
        for path, _ in list(_paths(base))[1:]:
            for new in (KeyError, None, True, False, 0, 1, 1.0, 2.5, -1, "", "x", "reproduced", "v2", [], ["x"], {}):
                data = _replaced(base, path, new)
                valid = not any(True for _ in validator.iter_errors(data))
                assert record._conforms(data) == valid, (path, new)
                assert (record.schema_problems(data) == []) == valid
                judged[valid] += 1
    assert judged[True] > 500 and judged[False] > 500


def test_fast_schema_walk_leaves_unknown_keywords_to_jsonschema(monkeypatch):
    schema = dict(record._schema(), properties=dict(record._schema()["properties"],
                                                    run_id={"type": "string", "pattern": "^R"}))
    monkeypatch.setattr(record, "_schema", lambda: schema)
    assert record._conforms(sample()) is False  # not known to be valid: jsonschema decides
