"""The HTML report in a real browser: Debian's headless Chromium, networking off, runs the page's
script; the tests read the DOM it leaves (--dump-dom) and every request it made (--log-net-log)."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

import htmldom
import report_records
from conftest import ROOT, in_ci
from integration.conftest import lab


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        if in_ci():
            pytest.fail("CI=true and no chromium; scripts/install-test-deps.sh installs it")
        pytest.skip("chromium is not installed (scripts/install-test-deps.sh installs it)")
    return path


def browse(chromium, page, tmp_path, fragment=""):
    """(DOM after the page's script ran, URLs the page asked the network for)."""
    profile, netlog = tmp_path / "profile", tmp_path / "net.json"
    argv = [chromium, "--headless", "--disable-gpu", f"--user-data-dir={profile}",
            # no name resolves: nothing could be fetched even if the page tried (the netlog still shows it)
            "--host-resolver-rules=MAP * ~NOTFOUND",
            # the browser's own traffic (updates, sync) stays out of the log
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--log-net-log={netlog}", "--dump-dom", f"file://{page}{fragment}"]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return htmldom.parse(proc.stdout), page_requests(netlog)


def page_requests(netlog):
    """URLs of requests a page started. The browser's own requests have no initiator ("not an origin");
    a file: page's have its opaque origin, "null"."""
    log = json.loads(Path(netlog).read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return sorted({e["params"]["url"] for e in log["events"] if e["type"] == start and "url" in e.get("params", {})
                   and e["params"].get("initiator") != "not an origin"})


def write_report(records, out, *by):
    """The report of a folder, or of a list of record files."""
    proc = lab("report", *map(str, records if isinstance(records, list) else [records]), "-o", str(out), *by)
    assert proc.returncode == 0, proc.stderr
    return out


def rows(dom):
    return dom.by_id("matrix").find_all("tbody")[0].find_all("tr")


def test_reference_report_loads_nothing_and_opens_details(chromium, tmp_path):
    page = write_report(ROOT / "results" / "reference", tmp_path / "ref.html")
    dom, requests = browse(chromium, page, tmp_path)
    assert requests == []
    # a column per environment: the host (2026-11-27's run of all suites; 2026-12-01's kernel matrix and
    # releases/ on a later build of the same kernel) and six guests (three kernels × cgroup v1, v2). The
    # rows and cells, counted from the records themselves: one row per variant, suite and release, one
    # cell per row and environment where it ran; none pools two environments.
    import json
    rows_seen, cells_seen = set(), set()
    for p in (ROOT / "results" / "reference").rglob("*.json"):
        rec = json.loads(p.read_text())
        guest = rec["host"].get("guest") or {}
        env = (guest.get("kernel_release"), guest.get("cgroup")) if guest else (rec["host"]["kernel"],)
        for r in rec["results"]:
            row = (r["scenario"], r["variant"], r["suite"], tuple(sorted((r.get("release") or {}).items())))
            rows_seen.add(row)
            cells_seen.add((row, env))
    assert [th.text() for th in dom.by_id("matrix").find_all("th", cls="col")] == [
        "host 6.18.44-fc-v669 hybrid", "host 6.18.44-fc-v1045 hybrid", "guest 5.10.0-46-amd64 v1",
        "guest 5.10.0-46-amd64 v2", "guest 6.1.0-57-amd64 v1", "guest 6.1.0-57-amd64 v2",
        "guest 6.12.118+deb13-amd64 v1", "guest 6.12.118+deb13-amd64 v2"]
    assert len(rows(dom)) == len(rows_seen) == 208
    assert len(dom.by_id("matrix").find_all("td", cls="cell")) == len(cells_seen)
    assert not dom.find_all("td", cls="pooled")
    # the cgmanager-era models and liblxc's plain-c pair exist on cgroup v1 only: skipped on v2 by design
    assert [tr.find_all("td")[1].text() for tr in dom.find_all("tr", cls="differs")] == [
        "libcontainer-modelmodel", "libcontainer-model-oncemodel", "link-liblxc", "model-cgm-escapemodel"]
    assert dom.by_id("closing").text().startswith("29 record(s), 8 column(s) by environment (engine, kernel, cgroup;")
    assert "hidden" in dom.by_id("details").attrs and not dom.find_all("td", cls="selected")
    # only relative links to the logs, and each reaches its log
    refs = htmldom.references(dom)
    assert refs and all(tag == "a" and k == "href" and not v.startswith(("/", "#")) and ":" not in v
                        for tag, k, v in refs), refs
    assert all((tmp_path / unquote(v)).is_file() for _, _, v in refs)

    dom, requests = browse(chromium, page, tmp_path, "#cell=6-0")
    assert requests == []
    assert "hidden" not in dom.by_id("details").attrs
    shown = [s.attrs["id"] for s in dom.by_id("details").find_all("section", cls="detail") if "hidden" not in s.attrs]
    assert shown == ["d-6-0"]
    assert [td.attrs["data-cell"] for td in dom.find_all("td", cls="selected")] == ["6-0"]
    detail = dom.by_id("d-6-0")
    assert detail.find_all("h2")[0].text().startswith("liblxc-cgroup-escape / model-cgm-escape (model) / bullseye")
    assert detail.find_all("pre", cls="replay")[0].text() == \
        "python lab.py run liblxc-cgroup-escape:model-cgm-escape --suite bullseye"
    assert "REPROLAB" in detail.find_all("pre", cls="log-tail")[0].text()


def test_reference_by_kernel_marks_pooled_cells_and_their_details(chromium, tmp_path):
    matrix = sorted((ROOT / "results" / "reference").glob("*.json"))  # the kernel matrix: releases/ aside
    page = write_report(matrix, tmp_path / "kernel.html", "--by", "kernel")
    # columns: the two host builds (2026-11-27's 71 results, 2026-12-01's 47), then 5.10, 6.1, 6.12
    dom, requests = browse(chromium, page, tmp_path, "#cell=1-2")  # plain-c on bookworm, 5.10: a v1 and a v2 run
    assert requests == []
    cells = dom.by_id("matrix").find_all("td", cls="cell")
    pooled = [td.attrs["data-cell"] for td in cells if "pooled" in td.classes]
    assert len(cells) == 71 + 47 + 3 * 47 and len(pooled) == 3 * 47
    assert "1-2" in pooled and "1-0" not in pooled and "1-1" not in pooled  # a host column holds one environment
    td = dom.find_all("td", cls="selected")[0]
    assert td.attrs["data-cell"] == "1-2" and td.find_all("span", cls="pool")[0].text() == "≠"
    note = dom.by_id("d-1-2").find_all("div", cls="pooled-note")[0]
    assert note.text() == "≠ pools runs of different environments: cgroup v1, v2"
    assert "hidden" not in dom.by_id("d-1-2").attrs
    assert dom.by_id("closing").text().endswith(
        "cgroup differs inside 5.10.0-46-amd64, 6.1.0-57-amd64, 6.12.118+deb13-amd64 "
        "(without --by, each environment has its own column)")


CLICKS = """<script>
// what a reader does, with real click events, after the page's own script has set itself up
function seen(tag) {
  document.querySelectorAll("#matrix tbody tr").forEach(function (tr) {
    tr.setAttribute("data-" + tag, getComputedStyle(tr).display === "none" ? "hidden" : "shown"); });
  document.body.setAttribute("data-hash-" + tag, location.hash);
}
seen("before");
document.getElementById("only-diff").click();
seen("only");
document.querySelector('#matrix td[data-cell="3-2"]').click();
seen("cell");
document.getElementById("only-diff").click();
seen("all");
</script>
</body>"""


def test_differing_rows_toggle_and_cell_details_by_clicks(chromium, tmp_path):
    report_records.write(tmp_path / "recs")
    (tmp_path / "recs" / "foreign.json").unlink()
    page = write_report(tmp_path / "recs", tmp_path / "set.html")
    scripted = tmp_path / "clicked.html"
    scripted.write_text(page.read_text().replace("</body>", CLICKS))
    dom, requests = browse(chromium, scripted, tmp_path)
    assert requests == []
    trs = rows(dom)
    assert ["differs" in tr.classes for tr in trs] == [False, False, True, True]
    assert [tr.attrs["data-before"] for tr in trs] == ["shown"] * 4
    assert [tr.attrs["data-only"] for tr in trs] == ["hidden", "hidden", "shown", "shown"]
    assert [tr.attrs["data-all"] for tr in trs] == ["shown"] * 4
    body = dom.find_all("body")[0].attrs
    assert (body["data-hash-before"], body["data-hash-only"], body["data-hash-cell"], body["data-hash-all"]) == \
        ("", "#diff", "#diff&cell=3-2", "#cell=3-2")
    assert "hidden" not in dom.by_id("details").attrs and "hidden" not in dom.by_id("d-3-2").attrs
    assert dom.by_id("d-3-2").find_all("h2")[0].text() == "demo / skips / bookworm on host 6.12.0-1-amd64"

    # the state a link carries: #diff opens the page with only the differing rows
    dom, _ = browse(chromium, page, tmp_path, "#diff")
    assert "only-diff" in dom.by_id("matrix").classes


def test_request_check_sees_a_page_that_fetches(chromium, tmp_path):
    # the check above can fail: a page with an outside image and script is caught
    page = tmp_path / "fetching.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/a.png">'
                    '<script src="https://example.invalid/b.js"></script></body></html>')
    _, requests = browse(chromium, page, tmp_path)
    assert requests == ["http://example.invalid/a.png", "https://example.invalid/b.js"]


@pytest.mark.docker
def test_run_writes_its_report(client, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    proc = lab("--scenarios", str(ROOT / "tests" / "fixtures" / "scenarios"), "--results", str(tmp_path / "r"),
               "run", "outcomes:present", "outcomes:absent", "--suite", "bookworm", "--repeat", "2",
               "--report", str(pages / "run.html"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(f"report of 1 record(s): {pages / 'run.html'}\n")
    dom = htmldom.parse((pages / "run.html").read_text())
    cells = [td.text() for td in dom.by_id("matrix").find_all("td", cls="cell")]
    assert [c.split("[")[0] for c in cells] == ["✓2/2 ", "✓0/2 "]
    assert dom.by_id("summary").text() == "1 record(s), 4 variant runs: 4 as expected, 0 differ, 0 skipped  |  2 rows"
    links = [a.attrs["href"] for a in dom.find_all("a", cls="log")]
    assert len(links) == 2 and all(v.startswith("../r/logs/") for v in links)
    assert all((pages / unquote(v)).is_file() for v in links)
