"""Per-variant run settings: timeout, memory, args and env override the scenario's run section."""

from reprolab.runs import runopts
from reprolab.scenarios import catalog, render
from reprolab.engines.privilege import CAPABILITIES

TEXT = """\
name: demo
title: Demo
summary: >
  Demo.
image:
  suites: [bookworm]
  toolchain: false
run:
  command: [/opt/reprolab/bin/repro]
  args: [--attempts, "10"]
  env: {MODE: fast, SHARED: "1"}
  timeout: 30
  memory: 256m
variants:
  cheap: {expect: not-reproduced}
  expensive:
    expect: reproduced
    args: [--attempts, "1000"]
    env: {MODE: thorough}
    timeout: 600
    memory: 2g
  no-args: {expect: reproduced, args: []}
"""


def options(sc, name):
    v = sc.variant(name)
    (recipe,) = sc.targets(v)
    return v, runopts.container_options(sc, v, recipe, "tag", "RUN", CAPABILITIES), render.render(sc, v, recipe)


def test_variants_take_the_run_settings_unless_they_override_them(write_scenario):
    sc = catalog.load_one(write_scenario(TEXT))
    v, opts, ctx = options(sc, "cheap")
    assert sc.timeout_of(v) == 30 and opts["mem_limit"] == opts["memswap_limit"] == "256m"
    assert opts["environment"] == {"MODE": "fast", "SHARED": "1"}
    assert 'CMD ["/opt/reprolab/bin/repro", "--attempts", "10"]' in ctx.dockerfile
    v, opts, ctx = options(sc, "expensive")
    assert sc.timeout_of(v) == 600 and opts["mem_limit"] == opts["memswap_limit"] == "2g"
    assert opts["environment"] == {"MODE": "thorough", "SHARED": "1"}
    assert 'CMD ["/opt/reprolab/bin/repro", "--attempts", "1000"]' in ctx.dockerfile
    assert "--memory=2g --memory-swap=2g" in " ".join(runopts.docker_argv(opts))
    _, _, ctx = options(sc, "no-args")
    assert 'CMD ["/opt/reprolab/bin/repro"]' in ctx.dockerfile
