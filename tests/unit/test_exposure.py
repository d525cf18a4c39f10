"""A negative carries its exposure: the result's field, and compare's row of unequal exposures."""

from reprolab.results import compare, exposure


def result(outcome="not-reproduced", attempts=1, seconds=1.0, count=None, unit="children", **kw):
    r = {"scenario": "s", "variant": "v", "suite": "bookworm", "model": False, "expected": "not-reproduced",
         "outcome": outcome, "match": "yes", "attempts": attempts, "seconds": seconds, **kw}
    r["exposure"] = {"attempts": attempts, "seconds": seconds}
    if count is not None:
        r["exposure"].update(count=count, unit=unit, count_key="evidence.children")
    return r


def rec(kernel, results, run_id=None):
    return {"kind": "reprolab-run", "schema_version": 1, "run_id": run_id or kernel, "started": "x",
            "host": {"kernel": kernel}, "results": results}


def test_the_field_holds_attempts_seconds_and_the_reproducers_own_count():
    entry = {"attempts": 4, "seconds": 16.2, "evidence": {"children_while_removing": 226, "tree": {"depth": 150}}}
    assert exposure.of(entry, "children_while_removing", "children", slowdown=20.0) == {
        "attempts": 4, "seconds": 16.2, "host_equivalent_seconds": 0.81, "count": 226, "unit": "children",
        "count_key": "evidence.children_while_removing"}
    assert exposure.of(entry, "tree.depth")["count"] == 150  # dotted: nested evidence
    # a declared count the evidence lacks (a skip, an error) is left out, never guessed
    assert exposure.of({"attempts": 0, "seconds": 0.0, "evidence": {}}, "children_while_removing") == {
        "attempts": 0, "seconds": 0.0}
    assert exposure.of({"attempts": 1, "seconds": 2.0, "evidence": {"children": "many"}}, "children") == {
        "attempts": 1, "seconds": 2.0}


def test_negatives_further_apart_than_the_factor_are_marked_and_say_theirs():
    host = [result(count=11366, attempts=3000)]
    guest = [result(count=439, attempts=3000)]
    notes, differs = exposure.row([host, guest])
    assert differs and notes == [" (11366 children)", " (439 children)"]


def test_negatives_within_the_factor_are_not_marked():
    assert exposure.row([[result(count=300)], [result(count=101)]]) == (["", ""], False)
    assert exposure.row([[result(count=300)], [result(count=99)]])[1] is True


def test_only_negative_cells_are_compared_and_annotated():
    notes, differs = exposure.row([[result(count=5000)], [result("reproduced", count=3)], [result(count=100)], []])
    assert differs and notes == [" (5000 children)", "", " (100 children)", ""]
    # one negative alone has nothing to be compared with
    assert exposure.row([[result(count=5000)], [result("reproduced", count=3)]]) == (["", ""], False)


def test_without_a_count_in_every_cell_attempts_are_compared():
    notes, differs = exposure.row([[result(count=2313, attempts=161)], [{"outcome": "not-reproduced", "attempts": 3}]])
    assert differs and notes == [" (161 attempts)", " (3 attempts)"]


def test_repeats_compare_per_run_and_give_the_rate_they_rule_out():
    host = [result(count=1000)] * 4
    guest = [result(count=1000)]
    assert exposure.row([host, guest]) == (["", ""], False)  # 4 runs are not 4x the exposure of one
    notes, differs = exposure.row([[result(count=2000)] * 3, [result(count=100)]])
    assert differs
    assert notes == [" (2000 children per run; 6000 in all: rate < 0.00064 each)", " (100 children)"]


def test_compare_marks_the_row_and_shows_the_exposures():
    records = [rec("6.18.44", [result(count=11366, attempts=1), result("reproduced", attempts=1, variant="m")]),
               rec("6.1.0-57-amd64", [result(count=439, attempts=1), result("reproduced", attempts=1, variant="m")])]
    headers, rows = compare.table_data(records)
    assert headers == ["scenario", "variant", "suite", "6.18.44", "6.1.0-57-amd64"]
    assert rows == [["s", "v [exposure differs]", "bookworm", "not-reproduced (11366 children)",
                     "not-reproduced (439 children)"],
                    ["s", "m", "bookworm", "reproduced", "reproduced"]]
    # the rule is said once, in compare --help (and the report's legend), not in the short closing line
    from reprolab import cli
    help_text = cli.parser()._subparsers._group_actions[0].choices["compare"].format_help()
    assert " ".join(exposure.RULE.split()) in " ".join(help_text.split())
    assert exposure.RULE not in compare.closing(records)


def test_records_from_before_exposures_compare_by_attempts():
    old = lambda attempts: {k: v for k, v in result(attempts=attempts).items() if k != "exposure"}
    _, rows = compare.table_data([rec("a", [old(161)]), rec("b", [old(3)])])
    assert rows == [["s", "v [exposure differs]", "bookworm", "not-reproduced (161 attempts)",
                     "not-reproduced (3 attempts)"]]
