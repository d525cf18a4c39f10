import json
import tarfile
from pathlib import Path

import jinja2
import pytest

from reprolab import catalog, render, runopts
from reprolab.privilege import CAPABILITIES, EMULATED, PRIVILEGED
from unit import golden

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "outcomes.yaml"


@pytest.fixture
def outcomes():
    return catalog.load_one(FIXTURE)


def test_dockerfile_golden(outcomes):
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    ctx = render.render(outcomes, v, recipe)
    golden.check("outcomes-present-bookworm.Dockerfile", ctx.dockerfile)
    assert ctx.tag == "reprolab/outcomes:present-bookworm"


def test_registry_image_variant_has_no_toolchain(outcomes):
    v = outcomes.variant("offline-image")
    (recipe,) = outcomes.targets(v)
    ctx = render.render(outcomes, v, recipe)
    assert ctx.tag == "reprolab/outcomes:offline-image"
    assert "FROM reprolab-test/not-on-any-engine:1 AS build" in ctx.dockerfile
    assert "apt-get" not in ctx.dockerfile


def test_toolchain_layer_is_the_common_list(tmp_path, outcomes):
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    from dataclasses import replace
    ctx = render.render(outcomes, v, replace(recipe, toolchain=True, build_packages=("golang-github-x-dev",)))
    lines = [ln for ln in ctx.dockerfile.splitlines() if ln.startswith("RUN apt-get")]
    assert lines[0].endswith("--no-install-recommends " + " ".join(render.toolchain()) + " >/dev/null")
    assert "golang-github-x-dev" in lines[1]


def test_hash_is_stable_and_follows_sources(tmp_path, outcomes):
    import shutil
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    first = render.render(outcomes, v, recipe)
    assert render.render(outcomes, v, recipe) == first
    copy = tmp_path / "outcomes.yaml"
    shutil.copy(FIXTURE, copy)
    shutil.copytree(FIXTURE.parent / "outcomes", tmp_path / "outcomes")
    (tmp_path / "outcomes" / "fixture.sh").write_text("#!/bin/sh\necho changed\n")
    changed = catalog.load_one(copy)
    assert render.render(changed, changed.variant("present"), recipe).content_hash != first.content_hash


def test_context_tar_holds_sources_with_modes(outcomes):
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    tar = tarfile.open(fileobj=render.render(outcomes, v, recipe).tar())
    members = {m.name: m for m in tar.getmembers()}
    assert set(members) >= {"Dockerfile", "entry.sh", "src", "src/fixture.sh"}
    assert members["src/fixture.sh"].mode == 0o755 and members["src/fixture.sh"].mtime == 0


def test_yaml_values_reach_the_dockerfile_as_json(outcomes):
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    from dataclasses import replace
    tricky = replace(recipe, env=(("X", 'a"b $(id)'),), build=(("sh", "-c", "echo $HOME; id"),))
    text = render.render(outcomes, v, tricky).dockerfile
    assert 'ENV X="a\\"b $(id)"' in text
    assert 'RUN ["sh", "-c", "echo $HOME; id"]' in text


def test_templates_refuse_undefined_names(tmp_path, outcomes):
    (tmp_path / "Dockerfile.j2").write_text("FROM {{ nowhere }}\n")
    (tmp_path / "entry.sh").write_text("")
    (tmp_path / "toolchain.yaml").write_text("packages: []\n")
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    with pytest.raises(jinja2.UndefinedError):
        render.render(outcomes, v, recipe, images_dir=tmp_path)


@pytest.mark.parametrize("mode", [PRIVILEGED, EMULATED, CAPABILITIES])
def test_container_options_golden(outcomes, mode):
    from dataclasses import replace
    from reprolab.scenario import Requires
    req = Requires(privileged=mode != CAPABILITIES, capabilities=("SYS_ADMIN",) if mode == CAPABILITIES else (),
                   seccomp="unconfined", writable_cgroups=True)
    sc = replace(outcomes, requires=req)
    v = sc.variant("present")
    (recipe,) = sc.targets(v)
    opts = runopts.container_options(sc, v, recipe, "reprolab/outcomes:present-bookworm", "RUNID", mode,
                                     ("SYS_RESOURCE",))
    text = json.dumps(opts, indent=1, sort_keys=True) + "\n" + " ".join(runopts.docker_argv(opts)) + "\n"
    golden.check(f"options-{mode}.txt", text)
