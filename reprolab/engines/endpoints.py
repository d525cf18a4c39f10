"""Endpoints: where a run's engine comes from. The seam between the session and the kinds of engine.

An endpoint is anything with a `name`, `facts` (what the record says of it beyond the engine's own
facts) and an `engine(progress)` context that yields a client and ends whatever it started: a remote
URL here, a qemu guest in guests.matrix. The session never learns which kind it talks to.
"""

from contextlib import contextmanager

from reprolab.engines import engine


class Remote:
    """An engine someone else runs, reached by URL."""

    def __init__(self, url, connect=engine.connect):
        self.name, self.url, self._connect, self.facts = url, url, connect, {}

    @contextmanager
    def engine(self, progress):
        yield self._connect(self.url), self.facts
