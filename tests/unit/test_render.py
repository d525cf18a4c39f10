import json
import tarfile
from pathlib import Path

import jinja2
import pytest

from reprolab.common import labels
from reprolab.runs import runopts
from reprolab.scenarios import catalog, render
from reprolab.engines.privilege import CAPABILITIES, EMULATED, PRIVILEGED
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


def test_only_a_scenario_tagged_fixture_labels_its_images_as_a_test_fixture(outcomes):
    """The label scripts/clean-test-images.sh removes by: on the fixture's images, never on a scenario's."""
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    assert (labels.FIXTURE, "true") in render.render(outcomes, v, recipe).labels
    real = catalog.load_one(Path(__file__).resolve().parents[2] / "scenarios" / "reexec.yaml")
    for variant in real.variants:
        for r in real.targets(variant):
            assert labels.FIXTURE not in dict(render.render(real, variant, r).labels)


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


HOSTILE_ENV = (("AMP", "a&b"), ("BACKSLASHES", "C:\\dir\\ end\\"), ("DOLLAR_BRACE", "${HOME}x"),
               ("DOLLAR_HOME", "$HOME"), ("QUOTES", 'say "hi" it\'s'), ("SUBST", "$(id) `id`"),
               ("UNICODE", "é ✓ 😀 <tag>"), ("TRAILING_BACKSLASH_QUOTE", '\\"'))


def test_hostile_env_values_are_quoted_by_dockers_rules(outcomes):
    """ENV is not JSON to Docker: `$` expands and `\\u0026` stays literal. Each value is one
    double-quoted word with `\\`, `"` and `$` backslash-escaped; RUN stays exec-form JSON."""
    v = outcomes.variant("present")
    (recipe,) = outcomes.targets(v)
    from dataclasses import replace
    tricky = replace(recipe, env=HOSTILE_ENV, build=(("sh", "-c", "echo $HOME; id"),))
    text = render.render(outcomes, v, tricky).dockerfile
    golden.check("hostile-env.Dockerfile", text)
    assert 'ENV DOLLAR_HOME="\\$HOME"' in text and 'ENV AMP="a&b"' in text
    assert 'ENV QUOTES="say \\"hi\\" it\'s"' in text
    assert 'ENV BACKSLASHES="C:\\\\dir\\\\ end\\\\"' in text
    assert 'ENV UNICODE="é ✓ 😀 <tag>"' in text
    assert 'RUN ["sh", "-c", "echo $HOME; id"]' in text


def test_docker_quote_refuses_a_newline():
    assert render.docker_quote("plain") == '"plain"'
    with pytest.raises(ValueError):
        render.docker_quote("a\nRUN id")


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
    from reprolab.scenarios.scenario import Requires
    req = Requires(privileged=mode != CAPABILITIES, capabilities=("SYS_ADMIN",) if mode == CAPABILITIES else (),
                   seccomp="unconfined", writable_cgroups=True)
    sc = replace(outcomes, requires=req)
    v = sc.variant("present")
    (recipe,) = sc.targets(v)
    opts = runopts.container_options(sc, v, recipe, "reprolab/outcomes:present-bookworm", "RUNID", mode,
                                     ("SYS_RESOURCE",))
    text = json.dumps(opts, indent=1, sort_keys=True) + "\n" + " ".join(runopts.docker_argv(opts)) + "\n"
    golden.check(f"options-{mode}.txt", text)


def test_least_privilege_options_golden(outcomes):
    """Nothing but what is listed: every capability dropped first, no-new-privileges, a non-root user;
    the recorded `docker run` line shows each."""
    from dataclasses import replace
    from reprolab.scenarios.scenario import Requires
    sc = replace(outcomes, requires=Requires(base_capabilities="none", capabilities=("DAC_OVERRIDE",),
                                             no_new_privileges=True, user="65534:65534"))
    v = sc.variant("present")
    (recipe,) = sc.targets(v)
    opts = runopts.container_options(sc, v, recipe, "reprolab/outcomes:present-bookworm", "RUNID", CAPABILITIES)
    text = json.dumps(opts, indent=1, sort_keys=True) + "\n" + " ".join(runopts.docker_argv(opts)) + "\n"
    golden.check("options-least-privilege.txt", text)
    argv = " ".join(runopts.docker_argv(opts))
    assert "--cap-drop ALL --cap-add DAC_OVERRIDE --security-opt no-new-privileges --user 65534:65534 " in argv
