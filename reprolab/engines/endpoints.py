"""Endpoints: where a run's engine comes from. The seam between the session and the kinds of engine.

An endpoint is anything with a `name`, `facts` (what the record says of it beyond the engine's own
facts) and an `engine(progress)` context that yields a client and ends whatever it started: a remote
URL here, a qemu guest in guests.matrix. The session never learns which kind it talks to.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field

from reprolab.engines import engine


class Remote:
    """An engine someone else runs, reached by URL."""

    def __init__(self, url, connect=engine.connect):
        self.name, self.url, self._connect, self.facts = url, url, connect, {}

    @contextmanager
    def engine(self, progress):
        yield self._connect(self.url), self.facts


@dataclass(frozen=True)
class Connected:
    """What a session gets from its endpoint: the engine's client, the facts the endpoint adds to the
    engine's own (a guest's kernel, accelerator, boot time), and how images reach that engine.

    `prebuilt`: {tag: why it is missing, or ''} when the images were built on the lab's own engine
    and sent here (a guest's engine builds nothing; the session reuses them). `base_source`: a local
    engine to copy bases from when this one lacks them (a remote host)."""

    client: object
    facts: dict = field(default_factory=dict)
    prebuilt: dict = None
    base_source: object = None
