"""Turn command-line selectors (all | scenario | scenario:variant) into the targets to run."""

from dataclasses import dataclass

from reprolab.common.errors import UserError
from reprolab.scenarios.scenario import SUITES


@dataclass(frozen=True)
class Target:
    scenario: object
    variant: object
    recipe: object

    @property
    def suite(self):
        return self.recipe.suite or self.recipe.base

    @property
    def key(self):
        return f"{self.scenario.name}:{self.variant.name}@{self.suite}"


def select(scenarios, selectors, suites=()):
    for s in suites:
        if s not in SUITES:
            raise UserError(f"--suite {s}: unknown suite; choose from {', '.join(SUITES)}")
    by_name = {s.name: s for s in scenarios}
    chosen = []
    for sel in selectors or ["all"]:
        if sel == "all":
            chosen.extend((s, v) for s in scenarios for v in s.variants)
            continue
        name, _, vname = sel.partition(":")
        if name not in by_name:
            raise UserError(f"{sel}: no scenario named '{name}'; known: {', '.join(sorted(by_name)) or 'none'}")
        sc = by_name[name]
        if vname:
            try:
                chosen.append((sc, sc.variant(vname)))
            except KeyError:
                raise UserError(f"{sel}: scenario '{name}' has no variant '{vname}'; known: "
                                f"{', '.join(v.name for v in sc.variants)}") from None
        else:
            chosen.extend((sc, v) for v in sc.variants)
    targets, seen = [], set()
    for sc, v in chosen:
        for recipe in sc.targets(v, suites):
            t = Target(sc, v, recipe)
            if t.key not in seen:
                seen.add(t.key)
                targets.append(t)
    return targets
