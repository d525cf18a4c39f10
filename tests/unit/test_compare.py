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
    assert str(exc.value) == ("--by colour: choose one of env, kernel, release, host, cgroup, run, suite, go, or "
                              "several but env, suite and go joined by commas (kernel,cgroup)")


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
        "4 record(s), 4 column(s) by kernel, 1 of 1 rows differ (*: rule in lab.py compare --help); "
        "6.18.44-fc-v657, 6.18.44-fc-v782 are builds of release 6.18.44; "
        "6.1.0-50-amd64, 6.1.0-41-amd64 are builds of release 6.1.0")
    # by environment (the default) the kernel is the one fact that differs: the same columns
    assert compare.render(records) == text
    assert compare.closing(records) == compare.closing(records, "kernel").replace(
        "by kernel", "by environment (kernel)")
    text = compare.render(records, "release")
    assert text == ("scenario    variant    suite     6.18.44            6.1.0\n"
                    "----------  ---------  --------  -----------------  -----------------\n"
                    "s           v          bookworm  2/2 [0.34-1.00] *  0/2 [0.00-0.66] *")
    # --by release merges builds, and says so
    assert compare.closing(records, "release") == (
        "4 record(s), 2 column(s) by release, 1 of 1 rows differ (*: rule in lab.py compare --help); "
        "cells pool runs of different environments: kernel differs inside 6.18.44, 6.1.0 "
        "(without --by, each environment has its own column)")
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
    # across kernels and layouts, only the v1-only variants differ: run on v1, skipped on v2 (the
    # cgmanager-era models, and the plain-c scenario's pair, which reads v1 hierarchies)
    for by in ("env", "kernel", "cgroup", "kernel,cgroup"):
        starred = [row[:2] for row in compare.table_data(records, by, only_diff=True)[1]]
        assert starred == [["liblxc-cgroup-escape", "libcontainer-model (model)"],
                           ["liblxc-cgroup-escape", "libcontainer-model-once (model)"],
                           ["liblxc-cgroup-escape-plain-c", "link-liblxc"],
                           ["liblxc-cgroup-escape-plain-c", "model-cgm-escape (model)"]], (by, starred)


def env_rec(run_id, kernel, cgroup, outcomes, where="host", privileged=None, hostname="box"):
    """A record of this machine's engine (where="host"), a qemu guest ("guest") or a remote engine (its
    address)."""
    r = rec(run_id, kernel, outcomes, host=hostname)
    r["host"].update(cgroup=cgroup, local_engine=where == "host")
    if where == "guest":
        r["host"].update(hostname="reprolab-guest", host_label=f"guest {kernel} {cgroup}",
                         guest={"kernel_release": kernel, "cgroup": cgroup, "console_log": "c.log"})
    elif where != "host":
        r["host"]["host_label"] = where
    r["privileged_mode"] = privileged
    return r


def test_columns_differing_in_one_fact_are_named_by_it():
    # one kernel, both cgroup layouts: the kernel is left out of the names, the runs of each layout pooled
    recs = [env_rec("a", "6.1.0-56-amd64", "v1", [("v", "reproduced")]),
            env_rec("b", "6.1.0-56-amd64", "v2", [("v", "skipped")]),
            env_rec("c", "6.1.0-56-amd64", "v1", [("v", "reproduced")])]
    headers, rows = compare.table_data(recs)
    assert headers[3:] == ["v1", "v2"]
    assert rows == [["s", "v", "bookworm", "2/2 [0.34-1.00] *", "skipped *"]]
    assert compare.closing(recs) == ("3 record(s), 2 column(s) by environment (cgroup), 1 of 1 rows differ "
                                     "(*: rule in lab.py compare --help)")


def test_columns_differing_in_two_facts_are_named_by_both():
    recs = [env_rec("a", "5.10.0-46-amd64", "v1", [("v", "reproduced")]),
            env_rec("b", "5.10.0-46-amd64", "v2", [("v", "reproduced")]),
            env_rec("c", "6.1.0-56-amd64", "v1", [("v", "reproduced")]),
            env_rec("d", "6.1.0-56-amd64", "v2", [("v", "not-reproduced")])]
    headers, rows = compare.table_data(recs)
    assert headers[3:] == ["5.10.0-46-amd64 v1", "5.10.0-46-amd64 v2", "6.1.0-56-amd64 v1", "6.1.0-56-amd64 v2"]
    assert rows == [["s", "v", "bookworm"] + ["reproduced *"] * 3 + ["not-reproduced *"]]
    assert compare.closing(recs).startswith("4 record(s), 4 column(s) by environment (kernel, cgroup), 1 of 1 rows")
    assert compare.as_json(recs)["environment_facts"] == ["kernel", "cgroup"]


def test_columns_differing_in_no_fact_pool_every_run_under_the_kernel():
    recs = [env_rec(f"r{i}", "6.1.0-56-amd64", "v2", [("v", "reproduced" if i else "not-reproduced")],
                    privileged="emulated") for i in range(3)]
    headers, rows = compare.table_data(recs)
    assert headers[3:] == ["6.1.0-56-amd64"]
    assert rows == [["s", "v", "bookworm", "2/3 [0.21-0.94]"]]
    assert compare.closing(recs) == ("3 record(s), 1 column(s) by environment (no fact differs), 0 of 1 rows "
                                     "differ (*: rule in lab.py compare --help)")


def test_a_fact_that_follows_the_named_ones_splits_but_is_said_not_named():
    # the host's privileged mode is emulated, the guests' real: one column each, named without it
    recs = [env_rec("h", "6.18.44-fc-v669", "hybrid", [("v", "reproduced")], privileged="emulated"),
            env_rec("g1", "6.1.0-56-amd64", "v1", [("v", "reproduced")], "guest", "privileged"),
            env_rec("g2", "6.1.0-56-amd64", "v2", [("v", "reproduced")], "guest", "privileged")]
    assert compare.table_data(recs)[0][3:] == ["host 6.18.44-fc-v669 hybrid", "guest 6.1.0-56-amd64 v1",
                                               "guest 6.1.0-56-amd64 v2"]
    assert compare.closing(recs) == (
        "3 record(s), 3 column(s) by environment (engine, kernel, cgroup; privileged mode follows the engine: "
        "host emulated, guest privileged), 0 of 1 rows differ (*: rule in lab.py compare --help)")
    # two machines of one kernel and layout stay apart, named by the machine
    recs = [env_rec("a", "6.1.0-56-amd64", "v2", [("v", "reproduced")], hostname="box1"),
            env_rec("b", "6.1.0-56-amd64", "v2", [("v", "reproduced")], hostname="box2"),
            env_rec("c", "6.1.0-56-amd64", "v2", [("v", "reproduced")], where="10.0.0.7:2375", hostname="far")]
    assert compare.table_data(recs)[0][3:] == ["host box1", "host box2", "10.0.0.7:2375 far"]


def test_a_fact_that_does_not_apply_splits_nothing():
    # a run that needed no privileged mode (privileged_mode None) joins the column of its host
    recs = [env_rec("a", "6.1.0-56-amd64", "v2", [("v", "reproduced")]),
            env_rec("b", "6.1.0-56-amd64", "v2", [("v", "reproduced"), ("w", "reproduced")], privileged="emulated"),
            env_rec("c", "6.1.0-56-amd64", "v1", [("v", "reproduced")], "guest", "privileged")]
    headers, rows = compare.table_data(recs)
    assert headers[3:] == ["host", "guest"]
    assert rows == [["s", "v", "bookworm", "2/2 [0.34-1.00]", "reproduced"],
                    ["s", "w", "bookworm", "reproduced", ""]]
    assert compare.as_json(recs)["implied"] == ["cgroup follows the engine: host v2, guest v1",
                                                "privileged mode follows the engine: host emulated, guest privileged"]


def test_by_that_pools_environments_says_which_facts_differ_inside_which_column():
    recs = [env_rec("a", "5.10.0-46-amd64", "v1", [("v", "reproduced")], "guest", "privileged"),
            env_rec("b", "5.10.0-46-amd64", "v2", [("v", "skipped")], "guest", "privileged"),
            env_rec("c", "6.1.0-56-amd64", "v2", [("v", "reproduced")], "guest", "privileged"),
            env_rec("d", "6.1.0-56-amd64", "hybrid", [("w", "reproduced")], privileged="emulated")]
    headers, rows = compare.table_data(recs, "kernel")
    assert rows[0] == ["s", "v", "bookworm", "1/1 [0.21-1.00] +1 other *", "reproduced *"]
    # 6.1.0-56-amd64 holds two environments but no cell pools them: only 5.10's is named
    assert compare.closing(recs, "kernel") == (
        "4 record(s), 2 column(s) by kernel, 1 of 2 rows differ (*: rule in lab.py compare --help); "
        "cells pool runs of different environments: cgroup differs inside 5.10.0-46-amd64 "
        "(without --by, each environment has its own column)")
    assert compare.as_json(recs, "kernel")["pooled"] == {"5.10.0-46-amd64": ["cgroup"]}
    assert compare.closing(recs, "suite").endswith(
        "cells pool runs of different environments: kernel and cgroup differ inside bookworm "
        "(without --by, each environment has its own column)")
    assert compare.closing(recs, "kernel,cgroup").endswith("(*: rule in lab.py compare --help)")
    assert compare.as_json(recs)["pooled"] == {}
    with pytest.raises(UserError, match=r"^--by env,kernel: choose one of"):
        compare.table_data(recs, "env,kernel")


def test_reference_by_environment_has_eight_columns_and_pools_nothing():
    ref = Path(__file__).resolve().parents[2] / "results" / "reference"
    records, _ = compare.load_many(record.list_records(ref))  # the kernel matrix (releases/ has its own test)
    headers, rows = compare.table_data(records)
    # this host's run of all suites (2026-11-27), then the matrix of 2026-12-01: this host's later build
    # of the same kernel and six guests
    assert headers[3:] == ["host 6.18.44-fc-v669 hybrid", "host 6.18.44-fc-v1045 hybrid", "guest 5.10.0-46-amd64 v1",
                           "guest 5.10.0-46-amd64 v2", "guest 6.1.0-57-amd64 v1", "guest 6.1.0-57-amd64 v2",
                           "guest 6.12.118+deb13-amd64 v1", "guest 6.12.118+deb13-amd64 v2"]
    bookworm = [row for row in rows if row[2].startswith("bookworm")]
    assert len(rows) == 93 and len(bookworm) == 45  # and the two golang:1.12.x images, skipped
    # one run per cell: no k/N pools a v1 run with a v2 run
    assert not any("/" in c for row in rows for c in row[3:]), rows
    model = next(row for row in rows if row[1] == "libcontainer-model (model)" and row[2] == "bookworm")
    assert model[3:] == ["reproduced *"] * 2 + ["reproduced *", "skipped *"] * 3  # v1 only, by design
    assert compare.closing(records) == (
        "8 record(s), 8 column(s) by environment (engine, kernel, cgroup; privileged mode follows the engine: "
        "host emulated, guest privileged), 4 of 93 rows differ (*: rule in lab.py compare --help); host "
        "6.18.44-fc-v669 hybrid, host 6.18.44-fc-v1045 hybrid are builds of release 6.18.44")
    assert compare.pooled_columns(compare.pivot_of(records)) == {}


def test_cli_compare_ends_with_the_short_line(capsys):
    ref = Path(__file__).resolve().parents[2] / "results" / "reference"
    from reprolab import cli
    matrix = [str(p) for p in record.list_records(ref)]  # the kernel matrix: releases/ aside
    assert cli.main(["compare", *matrix]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == ("8 record(s), 8 column(s) by environment (engine, kernel, cgroup; privileged mode follows "
                       "the engine: host emulated, guest privileged), 4 of 93 rows differ (*: rule in lab.py "
                       "compare --help); host 6.18.44-fc-v669 hybrid, host 6.18.44-fc-v1045 hybrid are builds of "
                       "release 6.18.44")
    assert out[0].split()[3:5] == ["host", "6.18.44-fc-v669"]
    # the whole folder: releases/ ran on the matrix's build of this host's kernel, in its column
    assert cli.main(["compare", str(ref)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(
        "; host 6.18.44-fc-v669 hybrid, host 6.18.44-fc-v1045 hybrid are builds of release 6.18.44")
    assert cli.main(["compare", *matrix, "--by", "kernel"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(
        "cells pool runs of different environments: cgroup differs inside 5.10.0-46-amd64, 6.1.0-57-amd64, "
        "6.12.118+deb13-amd64 (without --by, each environment has its own column)")
    assert cli.main(["compare", *matrix, "--by", "env"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == out[-1]


def test_compare_help_says_the_rules_once():
    from reprolab import cli
    # argparse wraps the text at any width (and after hyphens): compare it without whitespace
    flat = lambda t: "".join(t.split())  # noqa: E731
    text = flat(cli.parser()._subparsers._group_actions[0].choices["compare"].format_help())
    assert text.count(flat(compare.ENV_RULE)) == 1 and text.count(flat(compare.RULE)) == 1
    assert flat("--by KEY columns: env (default: one per environment)") in text


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
