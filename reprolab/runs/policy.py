"""A run's policy: how often each target runs and when repeating stops, how many run at once, and
how long a build may take. The user's choices, the same on every engine of a run. Pure."""

from dataclasses import dataclass

from reprolab.common import stats
from reprolab.engines import build


@dataclass(frozen=True)
class Policy:
    repeat: int = 1
    until_decided: bool = False  # stop repeating once the Wilson interval decides (stats.decided)
    confidence: float = 0.95
    max_rate: float = 0.1  # a rate below this counts as absent
    jobs: int = 1  # targets run at once
    build_timeout: float = build.DEFAULT_TIMEOUT
    # until_decided's rule, (k, n) -> stop, when not stats.decided: bisect passes its own (bisect.Rule.done)
    stop: object = None

    def __post_init__(self):
        if self.repeat < 1 or self.jobs < 1:
            raise ValueError(f"repeat and jobs must be at least 1 (repeat {self.repeat}, jobs {self.jobs})")
        if not 0 < self.confidence < 1 or not 0 < self.max_rate < 1:
            raise ValueError(f"confidence and max_rate must lie between 0 and 1 "
                             f"(confidence {self.confidence}, max_rate {self.max_rate})")

    def decided(self, k, n):
        """True when repeating can stop: asked to, and k of n decide at this confidence."""
        if not (self.until_decided and n):
            return False
        return bool(self.stop(k, n) if self.stop else stats.decided(k, n, self.confidence, self.max_rate))
