import json
import xml.etree.ElementTree as ET

from pathlib import Path

import pytest

from reprolab.common import stats
from reprolab.results import compare, exposure, junit, record
from reprolab.common.errors import UserError


def rec(run_id, kernel, outcomes, host="h1", suite="bookworm"):
    return {"kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": run_id, "started": "x",
            "host": {"kernel": kernel, "hostname": host, "host_label": host, "cgroup": "v2"},
            "results": [{"scenario": "s", "variant": v, "suite": suite, "outcome": o, "expected": "reproduced",
                         "match": "yes" if o == "reproduced" else "no", "model": v == "m", "seconds": 1.0,
                         "attempts": 1, "reason": "why" if o != "reproduced" else ""}
                        for v, o in outcomes]}


def test_wilson_known_values():
    low, high = stats.wilson(19, 20)
    assert (round(low, 3), round(high, 3)) == (0.764, 0.991)
    assert stats.wilson(0, 10)[0] == 0.0 and round(stats.wilson(0, 10)[1], 3) == 0.278
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_decided():
    assert stats.decided(1, 1)  # one reproduction: the interval excludes 0
    assert not stats.decided(0, 10)  # 0/10: the rate may still be up to 0.28
    assert stats.decided(0, 40)  # 0/40: upper bound 0.088 < 0.1


def test_pivot_by_kernel_marks_differences():
    records = [rec("a", "5.10", [("v", "reproduced"), ("m", "reproduced")]),
               rec("b", "6.1", [("v", "not-reproduced"), ("m", "reproduced")])]
    headers, rows = compare.table_data(records, "kernel")
    assert headers == ["scenario", "variant", "suite", "5.10", "6.1"]
    assert rows == [["s", "v", "bookworm", "reproduced *", "not-reproduced *"],
                    ["s", "m (model)", "bookworm", "reproduced", "reproduced"]]
    headers, rows = compare.table_data(records, "kernel", only_diff=True)
    assert [r[1] for r in rows] == ["v"]


def test_repeated_runs_become_rates():
    runs = [rec(f"r{i}", "6.1", [("v", "reproduced" if i < 7 else "not-reproduced")]) for i in range(10)]
    _, rows = compare.table_data(runs, "kernel")
    assert rows == [["s", "v", "bookworm", "7/10 [0.40-0.89]"]]


def test_by_suite_moves_suites_to_columns():
    records = [rec("a", "6.1", [("v", "reproduced")], suite="bullseye"),
               rec("b", "6.1", [("v", "not-reproduced")], suite="trixie")]
    headers, rows = compare.table_data(records, "suite")
    assert headers == ["scenario", "variant", "bullseye", "trixie"]
    assert rows == [["s", "v", "reproduced *", "not-reproduced *"]]


def test_unknown_by():
    with pytest.raises(Exception) as exc:
        compare.pivot([], "colour")
    assert "--by colour: choose one of kernel, release, host, cgroup, run, suite" in str(exc.value)


def test_agreeing_rates_are_not_starred():
    # the case seen on the reference machine: 0/2 and a single not-reproduced on one kernel agree
    records = [rec("a", "6.1", [("v", "not-reproduced")]),
               rec("b", "6.1", [("v", "not-reproduced")]), rec("c", "6.1", [("v", "not-reproduced")])]
    records[0]["host"]["kernel"] = "5.10"
    text = compare.render(records, "kernel")
    assert text == ("scenario    variant    suite     5.10            6.1\n"
                    "----------  ---------  --------  --------------  ---------------\n"
                    "s           v          bookworm  not-reproduced  0/2 [0.00-0.66]")
    assert compare.table_data(records, "kernel", only_diff=True)[1] == []


@pytest.mark.parametrize("a, b, star", [
    (["not-reproduced"], ["not-reproduced"] * 2, False),          # 0/1 and 0/2
    (["reproduced"], ["not-reproduced"], True),                   # 1/1 and 0/1: one is 0/N
    (["reproduced"] * 2, ["reproduced"] + ["not-reproduced"] * 9, False),  # 2/2, 1/10: both > 0, overlap
    (["reproduced"] * 10, ["reproduced"] + ["not-reproduced"] * 9, True),  # 10/10, 1/10: disjoint
    (["reproduced"] * 10, ["reproduced"] * 9 + ["not-reproduced"], False),  # 10/10, 9/10
    (["skipped"], ["skipped"], False),
    (["skipped"], ["not-reproduced"], True),                      # skipped differs from ran
    (["skipped"], ["error"], True),
    (["hang"], ["hang", "hang"], False),
    (["reproduced", "error"], ["reproduced"], True),              # an error in one column only
    (["reproduced"], [], False),                                  # an empty cell is not compared
])
def test_differs_rule(a, b, star):
    assert compare.differs([a, b]) is star
    assert compare.differs([b, a]) is star


def test_builds_of_one_release_are_adjacent_and_named():
    records = [rec("a", "6.18.44-fc-v657", [("v", "reproduced")]),
               rec("b", "6.1.0-50-amd64", [("v", "not-reproduced")]),
               rec("c", "6.18.44-fc-v782", [("v", "reproduced")]),
               rec("d", "6.1.0-41-amd64", [("v", "not-reproduced")])]
    text = compare.render(records, "kernel")
    assert text == (
        "scenario    variant    suite     6.18.44-fc-v657    6.18.44-fc-v782    6.1.0-50-amd64    6.1.0-41-amd64\n"
        "----------  ---------  --------  -----------------  -----------------  ----------------  ----------------\n"
        "s           v          bookworm  reproduced *       reproduced *       not-reproduced *  not-reproduced *")
    assert compare.closing(records, "kernel") == (
        "4 record(s) compared by kernel; 6.18.44-fc-v657, 6.18.44-fc-v782 are builds of release 6.18.44; "
        "6.1.0-50-amd64, 6.1.0-41-amd64 are builds of release 6.1.0; * marks a row whose outcomes differ: "
        + compare.RULE + "; " + exposure.RULE)
    text = compare.render(records, "release")
    assert text == ("scenario    variant    suite     6.18.44            6.1.0\n"
                    "----------  ---------  --------  -----------------  -----------------\n"
                    "s           v          bookworm  2/2 [0.34-1.00] *  0/2 [0.00-0.66] *")
    assert compare.as_json(records)["releases"] == {
        "6.18.44": ["6.18.44-fc-v657", "6.18.44-fc-v782"], "6.1.0": ["6.1.0-50-amd64", "6.1.0-41-amd64"]}


@pytest.mark.parametrize("kernel, rel", [("6.18.44-fc-v657", "6.18.44"), ("6.1.0-50-amd64", "6.1.0"),
                                         ("5.15.0", "5.15.0"), ("6.8", "6.8"), ("?", "?"), ("weird", "weird")])
def test_release(kernel, rel):
    assert compare.release(kernel) == rel


def test_reference_stars_only_rows_whose_outcomes_differ():
    ref = Path(__file__).resolve().parents[2] / "results" / "reference"
    records, problems = compare.load_many([ref])
    assert records and not problems
    host = [r for r in records if not r["host"].get("guest")]
    assert compare.table_data(host, "kernel", only_diff=True)[1] == []  # one kernel: nothing differs
    # across kernels and layouts, only the v1-only models differ: reproduced on v1, skipped on v2
    for by in ("kernel", "cgroup", "kernel,cgroup"):
        starred = [row[:2] for row in compare.table_data(records, by, only_diff=True)[1]]
        assert starred == [["liblxc-cgroup-escape", "libcontainer-model (model)"],
                           ["liblxc-cgroup-escape", "libcontainer-model-once (model)"]], (by, starred)


def test_several_keys_make_one_column_each_combination():
    recs = [rec("a", "6.1.0-56-amd64", [("v", "reproduced")]), rec("b", "6.1.0-56-amd64", [("v", "skipped")])]
    recs[0]["host"]["cgroup"], recs[1]["host"]["cgroup"] = "v1", "v2"
    headers, rows = compare.table_data(recs, "kernel,cgroup")
    assert headers[3:] == ["6.1.0-56-amd64 v1", "6.1.0-56-amd64 v2"]
    assert rows == [["s", "v", "bookworm", "reproduced *", "skipped *"]]
    with pytest.raises(UserError, match=r"^--by kernel,suite: choose one of"):
        compare.table_data(recs, "kernel,suite")


def test_bad_records_are_named_and_the_rest_compared(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps(rec("a", "6.1", [("v", "reproduced")])))
    (tmp_path / "corrupt.json").write_text("{")
    (tmp_path / "foreign.json").write_text('{"tests": 3}')
    (tmp_path / "future.json").write_text(json.dumps(dict(rec("b", "6.1", []), schema_version=2)))
    incomplete = rec("c", "6.1", [("v", "reproduced")])
    del incomplete["results"][0]["outcome"]
    (tmp_path / "incomplete.json").write_text(json.dumps(incomplete))
    records, problems = compare.load_many([tmp_path])
    assert [r["run_id"] for r in records] == ["a"]
    assert len(problems) == 4
    assert f"{tmp_path}/incomplete.json: results[0].outcome: missing; repair the record or remove it" in problems
    assert any(p.startswith(f"{tmp_path}/corrupt.json: not a JSON record") for p in problems)
    assert any(p.startswith(f"{tmp_path}/foreign.json: not a reprolab run record") for p in problems)
    assert any(p.startswith(f"{tmp_path}/future.json: record schema version 2") for p in problems)


def test_junit_xml():
    r = rec("a", "6.1", [("v", "reproduced"), ("w", "not-reproduced"), ("x", "skipped")])
    r["results"][2]["match"] = "skip"
    r["started"] = "2026-01-01T00:00:00Z"
    root = ET.fromstring(junit.to_xml(r).split("\n", 1)[1])
    assert root.tag == "testsuite" and root.get("tests") == "3"
    assert (root.get("failures"), root.get("skipped")) == ("1", "1")
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == ["v@bookworm", "w@bookworm", "x@bookworm"]
    assert cases[1].find("failure").get("message") == "outcome not-reproduced, expected reproduced"
    assert cases[2].find("skipped") is not None and cases[0].find("failure") is None
