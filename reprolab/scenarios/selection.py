"""Turn command-line selectors (all | scenario | scenario:variant) into the targets to run, and
a variant's version axes (--go RANGE, or the axis's default) into one target per release."""

from dataclasses import dataclass, replace

from reprolab.common.errors import UserError
from reprolab.scenarios.scenario import SUITES
from reprolab.versions import axis as version_axis
from reprolab.versions.release import Range, expand


@dataclass(frozen=True)
class Target:
    scenario: object
    variant: object
    recipe: object
    unavailable: str = ""  # why this point cannot be had (its source did not answer): the run skips it

    @property
    def suite(self):
        return self.recipe.suite or self.recipe.base

    @property
    def release(self):
        """{axis: release} of this target's point on the variant's version axes ({} without)."""
        return {layer.axis: layer.release for layer in self.recipe.layers}

    @property
    def point(self):
        """The suite and releases as one word: bookworm, or bookworm+go1.23.1."""
        return self.suite + "".join(f"+{a}{r}" for a, r in self.release.items())

    @property
    def key(self):
        return f"{self.scenario.name}:{self.variant.name}@{self.point}"


def result_key(r):
    """The key of the target a result entry of a record came from (Target.key)."""
    return f"{r['scenario']}:{r['variant']}@{r['suite']}" + "".join(f"+{a}{v}" for a, v in (r.get("release") or {}).items())


def select(scenarios, selectors, suites=(), versions=None, listing=None):
    """The targets of `selectors` on `suites`. `versions` ({axis: [range specs]}, from --go) picks
    the releases of the variants on that axis (and only those variants); without it each axis's
    default releases run. `listing(axis)` gives what the axis's source has (versions.axis.listing)."""
    for s in suites:
        if s not in SUITES:
            raise UserError(f"--suite {s}: unknown suite; choose from {', '.join(SUITES)}")
    versions = {k: list(v) for k, v in (versions or {}).items() if v}
    listing = listing or version_axis.listing
    by_name = {s.name: s for s in scenarios}
    chosen = []
    for sel in selectors or ["all"]:
        if sel == "all":
            chosen.extend((s, v, False) for s in scenarios for v in s.variants)
            continue
        name, _, vname = sel.partition(":")
        if name not in by_name:
            raise UserError(f"{sel}: no scenario named '{name}'; known: {', '.join(sorted(by_name)) or 'none'}")
        sc = by_name[name]
        if vname:
            try:
                chosen.append((sc, sc.variant(vname), True))
            except KeyError:
                raise UserError(f"{sel}: scenario '{name}' has no variant '{vname}'; known: "
                                f"{', '.join(v.name for v in sc.variants)}") from None
        else:
            chosen.extend((sc, v, False) for v in sc.variants)
    if versions:
        for axis_name in versions:
            named = [f"{sc.name}:{v.name}" for sc, v, exact in chosen if exact and axis_name not in _axes(v)]
            if named:
                raise UserError(f"--{axis_name}: {', '.join(named)} has no {axis_name} axis (its variants.*.versions); "
                                f"drop --{axis_name} or choose a variant on it")
        chosen = [(sc, v, e) for sc, v, e in chosen if any(a in _axes(v) for a in versions)]
        if not chosen:
            raise UserError(f"--{', --'.join(versions)}: no selected variant has a "
                            f"{' or '.join(versions)} axis (variants.*.versions)")
    targets, seen = [], set()
    for sc, v, _ in chosen:
        for variant, points in _points(sc, v, versions, listing):
            for recipe in sc.targets(variant, suites, [layers for layers, _ in points] or ((),)):
                why = dict((tuple(layers), reason) for layers, reason in points).get(recipe.layers, "")
                t = Target(sc, variant_for(variant, recipe.layers), recipe, why)
                if t.key not in seen:
                    seen.add(t.key)
                    targets.append(t)
    return targets


def _axes(variant):
    return {a.name: a for a in variant.versions}


def _points(sc, v, versions, listing):
    """[(variant, [(layers, unavailable reason)])]: the variant's points on its axes (one axis at most
    has more than one release; several axes give their product)."""
    if not v.versions:
        return [(v, [])]
    per_axis = []
    for a in v.versions:
        specs, explicit = (versions[a.name], True) if a.name in versions else (list(a.default), False)
        have = listing(a)
        where = f"{sc.name}:{v.name}"
        if not have.releases:
            if explicit:
                raise UserError(f"--{a.name}: {a.source} lists no release ({have.error or 'nothing cached'}); "
                                f"nothing was built or run")
            reason = f"{a.source} lists no release: {have.error or 'nothing cached'}"
            per_axis.append([(version_axis.layer(a, r), reason) for r in _default_exact(a)] or [(None, reason)])
            continue
        try:
            chosen = expand(specs, have.releases, a.name, a.source)
        except UserError as exc:
            if explicit:
                raise
            raise UserError(f"{where}: versions.{a.name}.default: {str(exc).split(': ', 1)[1]}") from None
        fits = [r for r in chosen if a.supported(r)]
        if not fits:
            raise UserError(f"{where}: supports {a.name} {a.supports}; none of {', '.join(map(str, chosen))} is in it")
        per_axis.append([(version_axis.layer(a, r), "") for r in fits])
    points = [((), "")]
    for options in per_axis:
        points = [(layers + ((layer,) if layer else ()), reason or why)
                  for layers, reason in points for layer, why in options]
    return [(v, points)]


def _default_exact(a):
    """The exact releases a default names (used to say which points were skipped)."""
    out = []
    for spec in a.default:
        exact = Range(spec).exact()
        if exact is not None:
            out.append(".".join(map(str, exact)))
    return out


def variant_for(variant, layers):
    """The variant as it runs on one point: its expectation resolved for the point's releases."""
    if not layers:
        return variant
    expect = variant.expect
    axes = _axes(variant)
    for layer in layers:
        expect = axes[layer.axis].expectation(layer.release, expect) if layer.axis in axes else expect
    return replace(variant, expect=expect)


def with_layers(target, layers, unavailable=""):
    """`target` with its release layers replaced (the same releases, now fetched: hashes known)."""
    return replace(target, recipe=replace(target.recipe, layers=tuple(layers)),
                   unavailable=unavailable or target.unavailable)
