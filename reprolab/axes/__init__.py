"""Axes: what `bisect` walks, one module per axis (kernel: guests by release). Each turns the
user's points into ordered labels and measures one variant at one point (runs.bisect.Axis), by
the ordinary means: endpoints (guests.matrix) and sessions (runs). The search itself is pure and
lives in runs.bisect.

May import: common, versions, scenarios, engines, guests, runs, results."""
