"""Runs: the session (bases, builds, containers, the record of a run), executing one variant,
verdict lines and read rules applied to what was seen, forensics and artifacts, container run
options, prerequisites, and one selection on several hosts at once.

May import: common, versions, scenarios, engines, results."""
