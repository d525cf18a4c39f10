"""Engines: connecting to a Docker engine and its facts, engine errors, base images, builds,
privileges, container ownership and labels, image transfer, cleaning strays, and the endpoints
(where an engine comes from) that the runs see.

May import: common, versions, scenarios."""
