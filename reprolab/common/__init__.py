"""The shared vocabulary, the lowest room: errors, outcomes, statistics, label names, progress,
capability names, the download cache and the host-tool runner.

May import: nothing of reprolab. Every other room may import it."""
