"""Exports: what the lab writes for tools other than itself to run: docker-compose.yml (compose), and
repro bundles a maintainer runs with Docker alone (bundle renders, observed reads the records'
facts, destination writes a folder or a .tar.gz).

May import: common, versions, scenarios, engines, runs, results."""
