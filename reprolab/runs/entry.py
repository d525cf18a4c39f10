"""A result entry of the record: one variant run, its fields all made here (record.schema.json's
`results` items), its outcome filled in when the run ends."""

from reprolab.results import record
from reprolab.scenarios import render


def new(target, started, repeat=None):
    """The entry of `target`, its outcome not yet known; `repeat` numbers it among several runs."""
    sc, v, recipe = target.scenario, target.variant, target.recipe
    entry = {
        "scenario": sc.name, "variant": v.name, "suite": target.suite, "base": recipe.base,
        "model": v.model, "expected": v.expect, "outcome": None, "match": None, "reason": "",
        "attempts": 0, "seconds": 0.0, "build_seconds": 0.0, "evidence": {}, "versions": {},
        "image": render.image_tag(sc, v, recipe), "image_id": None, "content_hash": None,
        "log": None, "exit_code": None, "privilege": None,
        "replay": f"python lab.py run {sc.name}:{v.name}" + (f" --suite {recipe.suite}" if recipe.suite else ""),
        "docker_command": None, "started": record.utc(started),
    }
    if recipe.layers:  # a point of the variant's version axes: the release, and what it says it is
        entry["release"] = target.release
        entry["toolchains"] = {la.axis: {"source": la.source, "version": la.toolchain, "sha256": la.sha256}
                               for la in recipe.layers}
        entry["replay"] += "".join(f" --{la.axis} {la.release}" for la in recipe.layers)
    if repeat is not None:
        entry["repeat"] = repeat
    return entry


def log_name(target, repeat=None):
    """The file name of a variant run's log: <scenario>.<variant>.<suite>[.<repeat>].log"""
    suite = target.point.replace('/', '_').replace(':', '_')  # the suite and any releases
    return f"{target.scenario.name}.{target.variant.name}.{suite}" + (f".{repeat}" if repeat is not None else "") + ".log"
