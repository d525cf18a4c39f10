"""The heartbeat's pure logic on a fake clock: which activities get a "still ..." line, and when."""

from reprolab.common import heartbeat


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_quiet_activity_says_what_it_is_doing_how_long_and_how_far():
    lines, clock = [], Clock()
    beat = heartbeat.Heartbeat(lines.append, quiet=9, clock=clock)
    with beat.activity("building reprolab/x:y-bookworm") as act:
        clock.now += 8.9
        assert beat.tick() == []
        act.detail("Step 5/12 : RUN apt-get update")
        clock.now += 0.1
        assert beat.tick() == ["still building reprolab/x:y-bookworm (9 s, Step 5/12 : RUN apt-get update)"]
        clock.now += 5
        assert beat.tick() == []  # it said so 5 s ago
        clock.now += 4
        assert beat.tick() == ["still building reprolab/x:y-bookworm (18 s, Step 5/12 : RUN apt-get update)"]
    clock.now += 60
    assert beat.tick() == []  # ended: nothing more about it
    assert lines == ["still building reprolab/x:y-bookworm (9 s, Step 5/12 : RUN apt-get update)",
                     "still building reprolab/x:y-bookworm (18 s, Step 5/12 : RUN apt-get update)"]


def test_an_activity_that_speaks_for_itself_gets_no_still_line():
    lines, clock = [], Clock()
    beat = heartbeat.Heartbeat(lines.append, quiet=9, clock=clock)
    with beat.activity("making debian:trixie with debootstrap") as quiet_one, \
            beat.activity("building reprolab/a:b-bookworm") as talker:
        for _ in range(4):
            clock.now += 5
            talker.say("  Step n/m")
            beat.tick()
        quiet_one.detail("I: Retrieving libc6")
    assert lines.count("  Step n/m") == 4
    assert [ln for ln in lines if ln.startswith("still")] == [
        "still making debian:trixie with debootstrap (10 s)",
        "still making debian:trixie with debootstrap (20 s)"]


def test_a_plain_callback_gets_its_lines_and_no_heartbeat():
    lines = []
    with heartbeat.activity(lines.append, "building x") as act:
        act.detail("Step 1/2")
        act.say("hello")
    assert lines == ["hello"]


def test_the_thread_stops_with_the_block():
    beat = heartbeat.Heartbeat(lambda msg: None, quiet=9)
    with beat:
        assert beat._thread.is_alive()
    assert not beat._thread.is_alive()
