"""A progress callback that never stays quiet about long work: each running activity (a debootstrap,
an image build, a variant's container) that has said nothing for `quiet` seconds gets a line saying
what it is still doing, for how long, and how far along it is when known.

The library never prints: it calls `activity(progress, what)` and gets a handle whether or not the
caller's progress is a Heartbeat (a plain callback simply gets no "still ..." lines).
"""

import threading
import time
from contextlib import contextmanager

QUIET = 9.0  # seconds of silence before a "still ..." line: under the 10 s a console may stay quiet


class Activity:
    """One running activity: `say` prints a line of its own, `detail` only notes how far along it is."""

    def __init__(self, progress, what, clock):
        self._progress, self.what, self._clock = progress, what, clock
        self.started = self.last = clock()
        self.detail_text = ""

    def say(self, msg):
        self.last = self._clock()
        self._progress(msg)

    def detail(self, text):
        self.detail_text = text


class Heartbeat:
    """Wraps `progress`; a thread calls tick() each second. tick() itself is pure logic on `clock`."""

    def __init__(self, progress, quiet=QUIET, clock=time.monotonic):
        self.progress, self.quiet, self.clock = progress, quiet, clock
        self._lock = threading.Lock()
        self._running = []
        self._thread, self._done = None, threading.Event()

    def __call__(self, msg):
        self.progress(msg)

    @contextmanager
    def activity(self, what):
        act = Activity(self.progress, what, self.clock)
        with self._lock:
            self._running.append(act)
        try:
            yield act
        finally:
            with self._lock:
                self._running.remove(act)

    def tick(self):
        """A "still ..." line for each activity quiet for `quiet` seconds; returns the lines said."""
        now = self.clock()
        lines = []
        with self._lock:
            for act in self._running:
                if now - act.last >= self.quiet:
                    act.last = now
                    how_far = f", {act.detail_text}" if act.detail_text else ""
                    lines.append(f"still {act.what} ({int(now - act.started)} s{how_far})")
        for line in lines:
            self.progress(line)
        return lines

    def __enter__(self):
        self._done.clear()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(5)

    def _beat(self):
        while not self._done.wait(1.0):
            self.tick()


@contextmanager
def activity(progress, what):
    """An Activity of `progress` when it is a Heartbeat, else a handle that only forwards `say`."""
    if isinstance(progress, Heartbeat):
        with progress.activity(what) as act:
            yield act
    else:
        yield Activity(progress, what, lambda: 0.0)
