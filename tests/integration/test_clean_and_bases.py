import secrets
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from integration.conftest import lab, lab_containers, variant_containers
from reprolab.common import labels
from reprolab.engines import ownership
from reprolab.results import record

pytestmark = pytest.mark.docker


def dead_owner():
    """Owner labels of a process of this machine that has exited."""
    child = subprocess.Popen(["sleep", "60"])
    owner = ownership.owner_labels(child.pid)
    child.kill()
    child.wait()
    return owner


def container(client, run_id, owner):
    return client.containers.create("debian:bookworm", ["sleep", "60"], labels={labels.RUN: run_id, **owner})


def test_clean_removes_strays_of_dead_owners_and_leaves_the_rest(client):
    run = f"clean-test-{secrets.token_hex(4)}"
    stray = container(client, run, dead_owner())
    live = container(client, run, ownership.owner_labels())  # this test process: alive
    remote = container(client, run, {**ownership.owner_labels(), labels.OWNER_HOST: "elsewhere.example"})
    anonymous = container(client, run, {})
    other = client.containers.create("debian:bookworm", ["sleep", "60"], labels={"someone.else": run})
    try:
        proc = lab("clean", "--run", run)
        assert proc.returncode == 0, proc.stderr
        left = {c.id for c in lab_containers(client, run)}
        assert left == {live.id, remote.id, anonymous.id}
        assert f"removed {stray.short_id} (run {run}, ?): its owner, pid" in proc.stdout
        assert f"left {live.short_id}" in proc.stdout and "is still running" in proc.stdout
        assert f"left {remote.short_id}" in proc.stdout and "ran on elsewhere.example" in proc.stdout
        assert f"left {anonymous.short_id}" in proc.stdout and "names no owner" in proc.stdout
        assert proc.stdout.splitlines()[-1] == "removed 1 lab container(s), left 3 alone; --force removes those too"

        proc = lab("clean", "--force", "--run", run)
        assert proc.returncode == 0, proc.stderr
        assert lab_containers(client, run) == []
        assert proc.stdout.count("--force, although") == 3
        assert other.id in {c.id for c in client.containers.list(all=True)}
    finally:
        for c in (stray, live, remote, anonymous, other):
            try:
                c.remove(force=True)
            except Exception:
                pass


def test_a_live_run_survives_a_concurrent_clean(client, fixture_scenarios, tmp_path):
    # a longer timeout than the fixture's, so that the hang outlives the clean on a loaded machine
    yaml_path = fixture_scenarios / "outcomes.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("timeout: 5\n", "timeout: 20\n"))
    results = tmp_path / "r"
    run = subprocess.Popen([sys.executable, str(ROOT / "lab.py"), "--scenarios", str(fixture_scenarios),
                            "--results", str(results), "run", "outcomes:hangs"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stray = None
    try:
        deadline = time.time() + 120
        running = []
        while time.time() < deadline and not running and run.poll() is None:
            recs = record.list_records(results)
            if recs:
                running = variant_containers(client, recs[0].stem, "hangs", status="running")
            time.sleep(0.2)
        assert running, "the run's container never started"
        run_id = recs[0].stem
        stray = container(client, run_id, dead_owner())  # a leftover of a dead run, same run label
        proc = lab("clean", "--run", run_id)
        assert proc.returncode == 0, proc.stderr
        assert f"left {running[0].short_id}" in proc.stdout and "is still running" in proc.stdout
        assert f"removed {stray.short_id}" in proc.stdout
        assert {c.id for c in lab_containers(client, run_id)} == {running[0].id}
        out, err = run.communicate(timeout=120)
        rec = record.load(results / f"{run_id}.json")
        assert [r["outcome"] for r in rec["results"]] == ["hang"], err  # not error: nothing killed it
        assert lab_containers(client, run_id) == []
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if stray is not None:
            try:
                stray.remove(force=True)
            except Exception:
                pass


def test_bases_exist_and_say_how_they_were_made(client):
    proc = lab("base", "bookworm")
    assert proc.returncode == 0 and proc.stdout.startswith("debian:bookworm: ready")
    labels_ = client.images.get("debian:bookworm").labels or {}
    assert labels_.get(labels.BASE_ORIGIN) in ("debootstrap", None)  # None: pulled from a registry


def test_the_bases_of_all_suites_are_made_sure_of_together(client):
    """The parallel path of ensure_for on the real engine: every suite's base, once each, with the
    engine's id (present bases are reused; a cold engine makes them with debootstrap at once)."""
    from reprolab.engines import bases
    from reprolab.scenarios import catalog, selection
    targets = selection.select(catalog.load_all(str(ROOT / "scenarios")), ["all"], [])
    got = bases.ensure_for(client, [t.recipe for t in targets])
    assert sorted(got) == sorted({t.recipe.base for t in targets})
    for image in ("debian:bookworm", "debian:bullseye", "debian:trixie"):
        assert got[image].available, got[image].reason
        assert got[image].id == client.images.get(image).id
    for image, base in got.items():  # registry-only bases: there, or missing with the reason
        assert base.available or base.reason.startswith(f"base image {image} is not on the engine")


def test_clean_test_images_removes_only_fixture_labelled_images_no_one_uses(client):
    """scripts/clean-test-images.sh (run by .ci/run): labelled images go, tagged or dangling; an
    unlabelled one stays, and so does one a container uses (named on stderr). Narrowed by a token
    label so that it leaves this session's other fixture images alone."""
    import io
    import docker
    token = secrets.token_hex(4)
    repo = f"reprolab-test/clean-{token}"
    mark = {"org.reprolab.test": token}

    def image(tag, fixture, round_=1):
        lines = ["FROM debian:bookworm", f"LABEL org.reprolab.test={token} org.reprolab.test.image={tag}.{round_}"]
        if fixture:
            lines.append(f"LABEL {labels.FIXTURE}=true")
        img, _ = client.images.build(fileobj=io.BytesIO("\n".join(lines).encode()), tag=f"{repo}:{tag}", rm=True)
        return img

    dangling = image("d", True)
    image("d", True, round_=2)  # the name moves on: the first build is left untagged, still labelled
    image("a", True)
    used = image("b", True)
    image("c", False)
    user = client.containers.create(used.id, ["true"], labels={labels.RUN: f"clean-images-{token}"})
    try:
        assert client.images.get(dangling.id).tags == []
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "clean-test-images.sh"), "--filter",
                               f"label=org.reprolab.test={token}"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "clean-test-images: removed 3 test-fixture image(s) (org.reprolab.fixture=true), left 1\n"
        assert proc.stderr.startswith(f"clean-test-images: left {repo}:b: conflict: unable to remove repository "
                                      f"reference \"{repo}:b\""), proc.stderr
        left = sorted(t for img in client.images.list(filters={"label": f"org.reprolab.test={token}"}) for t in img.tags)
        assert left == [f"{repo}:b", f"{repo}:c"]
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(dangling.id)
        assert client.images.get("debian:bookworm")
    finally:
        user.remove(force=True)
        for img in client.images.list(all=True, filters={"label": f"org.reprolab.test={token}"}):
            try:
                client.images.remove(img.id, force=True)
            except Exception:
                pass
