"""Wall-clock budgets scaled to the engine's measured speed. Pure.

A scenario's `timeout` and a read rule's `after_seconds` are written for a host like the lab's. On
an engine measured k times slower (engines.speed: `host.speed.slowdown`), the lab multiplies them by
k, capped (MAX_FACTOR, MAX_SECONDS) so that a broken guest cannot stretch a run without end, and
records the written and the scaled value. Budgets only grow: a faster engine keeps them as written.
An exposure declared in attempts (`after_attempts`, a reproducer's own attempt count) needs no scaling.
A calibration that failed, or `--no-scale`, leaves every budget as written, and the record says why.
"""

import dataclasses
import math
from dataclasses import dataclass

MAX_FACTOR = 40.0  # TCG guests measure 17-26x slower at fork+exec; more than this is a broken engine
MAX_SECONDS = 3600  # no scaled budget exceeds this (the schema's largest timeout), unless written so


@dataclass(frozen=True)
class Scale:
    factor: float = 1.0  # what budgets are multiplied by
    slowdown: float = 0.0  # the measured slowdown (0: unknown)
    capped: bool = False  # the slowdown was above MAX_FACTOR
    unscaled: str = ""  # why budgets stay as written ("" when scaled, or when the engine is not slower)

    def facts(self):
        """What host.speed records of the scaling."""
        out = {"factor": self.factor, "capped": self.capped}
        if self.unscaled:
            out["unscaled"] = self.unscaled
        return out


def scale_of(speed, enabled=True):
    """The Scale of an engine whose `host.speed` is `speed` (engines.speed.compare)."""
    speed = speed or {}
    slowdown = float(speed.get("slowdown") or 0.0)
    if "error" in speed:
        return Scale(unscaled=f"calibration failed: {speed['error']}")
    if not slowdown:
        return Scale(unscaled=f"no ratio to the lab's host: {speed.get('ratio_error', 'not measured')}")
    if not enabled:
        return Scale(slowdown=slowdown, unscaled="--no-scale: budgets as written")
    if slowdown <= 1.0:
        return Scale(slowdown=slowdown)
    return Scale(factor=round(min(slowdown, MAX_FACTOR), 2), slowdown=slowdown, capped=slowdown > MAX_FACTOR)


@dataclass(frozen=True)
class Budget:
    timeout: int  # seconds the harness waits before it calls the run a hang
    read: object  # the read rule with its after_seconds scaled (None: no rule)
    scale: Scale
    written_timeout: int
    written_after: int = 0  # the rule's after_seconds as written (0: none)

    def facts(self):
        """The result entry's `budget`: each budget as written and as used, and the factor."""
        out = {"factor": self.scale.factor, "timeout": {"written": self.written_timeout, "scaled": self.timeout}}
        if self.written_after:
            out["after_seconds"] = {"written": self.written_after, "scaled": self.read.after_seconds}
        if self.scale.capped:
            out["capped"] = True
        if self.scale.unscaled:
            out["unscaled"] = self.scale.unscaled
        return out

    def note(self):
        """The progress line's words for a scaled budget ('' when nothing changed)."""
        if self.timeout == self.written_timeout:
            return ""
        parts = [f"timeout {self.written_timeout} s -> {self.timeout} s"]
        if self.written_after:
            parts.append(f"read.after_seconds {self.written_after} s -> {self.read.after_seconds} s")
        capped = f" (capped at {MAX_FACTOR:g}x; measured {self.scale.slowdown:g}x)" if self.scale.capped else ""
        return f"budgets x{self.scale.factor:g} for this engine{capped}: " + ", ".join(parts)

    def hang_reason(self, seconds):
        """A hang's reason: the timeout as written and as used, and how long the run lasted in
        host-equivalent seconds (its seconds divided by the measured slowdown)."""
        if self.timeout == self.written_timeout and self.scale.slowdown <= 1.0:
            return f"no end within the {self.timeout} s timeout; container killed"  # the lab's host, or as fast
        scaled = "" if self.timeout == self.written_timeout else f" ({self.written_timeout} s written, x{self.scale.factor:g})"
        slow = self.scale.slowdown or 1.0
        return (f"no end within the {self.timeout} s timeout{scaled}; container killed after {seconds:g} s, "
                f"{host_equivalent(seconds, slow):g} s host-equivalent (this engine measured {slow:g}x slower)")


def host_equivalent(seconds, slowdown):
    """Seconds on this engine as seconds on the lab's host."""
    return round(seconds / slowdown, 2) if slowdown and slowdown > 0 else seconds


def scaled(seconds, factor, limit=MAX_SECONDS):
    """`seconds` × `factor`, rounded up, at most `limit` (or `seconds` itself when written larger)."""
    return max(int(seconds), min(int(math.ceil(seconds * factor)), limit))


def for_variant(scenario, variant, scale):
    """The Budget of one variant on an engine of Scale `scale`."""
    written = scenario.timeout_of(variant)
    rule = scenario.read_rule(variant)
    timeout = scaled(written, scale.factor)
    after = getattr(rule, "after_seconds", 0)  # a line rule's exposure; a compare rule reads the whole output
    if after:
        # keep the exposure below the timeout, as validation made sure of for the written values
        gap = written - after
        rule = dataclasses.replace(rule, after_seconds=min(scaled(after, scale.factor), timeout - gap))
    return Budget(timeout=timeout, read=rule, scale=scale, written_timeout=written, written_after=after)
