"""Rates of repeated runs: k of N with a Wilson score interval, and when repeating may stop."""

import math
from statistics import NormalDist


def z_of(confidence):
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(k, n, confidence=0.95):
    """(low, high) of the Wilson score interval for k successes in n trials; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    z = z_of(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact at the ends (k = 0 gives low 0, k = n gives high 1); floating point would leave 1e-17
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def decided(k, n, confidence=0.95, max_rate=0.1):
    """Stop repeating once the interval excludes 0 (the bug shows at a non-zero rate) or its upper
    bound is below `max_rate` (any rate it may still have is too small to matter)."""
    low, high = wilson(k, n, confidence)
    return low > 0 or high < max_rate


def rate_cell(k, n, confidence=0.95):
    low, high = wilson(k, n, confidence)
    return f"{k}/{n} [{low:.2f}-{high:.2f}]"
