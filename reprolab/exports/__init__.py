"""Exports: what the lab writes for tools other than itself to run (docker-compose.yml).

May import: common, versions, scenarios, engines, runs, results."""
