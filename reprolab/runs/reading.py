"""Reading an unmodified upstream reproducer: its exit status and output lines → a verdict. Pure.

The rule itself (scenarios.readrule) is scenario data; this module applies it to what was seen.
A compare rule (sections of the output, a control and treatments) is applied by scenarios.sections
once the reproducer has ended; decide_compare turns its comparison into the verdict.

Most reproducers in issue trackers print no REPROLAB-RESULT line: they exit non-zero, panic, or
print a line when they see the bug, and many loop until they do. A scenario's `read` rule says how
to tell; the lab then writes the verdict itself, and names the part of the rule that decided, so a
record always says why its outcome is what it is. The decision is made only from what was
observed: a match, an exit status, or an exposure (seconds run, attempt lines seen) that ended
with neither.
"""

import re
from dataclasses import dataclass

from reprolab.scenarios import sections

MAX_LINE = 64 * 1024  # bytes of one line kept for matching; the log keeps everything
SHOWN = 500  # characters of a matched line kept as evidence


@dataclass(frozen=True)
class Decision:
    outcome: str
    rule: str  # which part of the rule decided
    reason: str = ""
    evidence: tuple = ()  # ((key, value), ...)
    attempts: int = None  # a compare rule's treatments; None: the Reader's count (or 1)


class Reader:
    """Fed the reproducer's lines as they come; says when the outcome is known, then what it is."""

    def __init__(self, rule):
        self.rule = rule
        self.patterns = {s: re.compile(p) for s, p in (("stdout", rule.reproduced_stdout),
                                                       ("stderr", rule.reproduced_stderr)) if p}
        self.attempt = re.compile(rule.attempt) if rule.attempt else None
        self.lines = {"stdout": 0, "stderr": 0}
        self.attempts = 0
        self.match = None  # {"stream", "line_number", "line", "pattern"} of the first match

    def feed(self, stream, line):
        """One line (str, no newline) of `stream` ('stdout' or 'stderr')."""
        self.lines[stream] += 1
        line = line[:MAX_LINE]
        pattern = self.patterns.get(stream)
        if self.match is None and pattern is not None and pattern.search(line):
            self.match = {"stream": stream, "line_number": self.lines[stream], "line": line[:SHOWN],
                          "pattern": pattern.pattern}
        if self.attempt is not None and self.attempt.search(line):
            self.attempts += 1

    def settled(self):
        """True once the outcome cannot change: a match, or the declared number of attempts seen."""
        return self.match is not None or (self.rule.after_attempts > 0 and self.attempts >= self.rule.after_attempts)

    def exposed(self, seconds):
        return self.rule.after_seconds > 0 and seconds >= self.rule.after_seconds

    def decide(self, exit_status, seconds, stopped=False, oom=False):
        """The outcome once the reproducer has ended. `exit_status` is its own; `stopped`: the lab
        ended it (decided, or its exposure was complete), so its status says nothing; `oom`: the
        memory limit killed it."""
        r = self.rule
        attempts = [("attempts", self.attempts)] if self.attempt else []
        if self.match is not None:
            m = self.match
            return Decision("reproduced", f"reproduced.{m['stream']}",
                            evidence=(("matched", dict(m)),) + tuple(attempts))
        own = not stopped and not oom and exit_status is not None
        if own and exit_status in r.reproduced_exit:
            return Decision("reproduced", "reproduced.exit_status",
                            evidence=(("exit_status", exit_status),) + tuple(attempts))
        if r.after_attempts and self.attempts >= r.after_attempts:
            return Decision("not-reproduced", "not_reproduced.after_attempts",
                            evidence=tuple(attempts) + (("seconds", seconds),))
        if self.exposed(seconds) and not oom:
            return Decision("not-reproduced", "not_reproduced.after_seconds",
                            evidence=(("seconds", seconds),) + tuple(attempts))
        if own and exit_status in r.not_reproduced_exit:
            return Decision("not-reproduced", "not_reproduced.exit_status",
                            evidence=(("exit_status", exit_status),) + tuple(attempts))
        how = "was killed by the OOM killer" if oom else f"ended with exit status {exit_status}"
        seen = f" and {self.attempts} attempt line(s)" if self.attempt else ""
        return Decision("error", "none", reason=(f"the reproducer {how} after {seconds:g} s{seen}, with no match "
                                                 f"and before the declared exposure"),
                        evidence=tuple(attempts))


def decide_compare(rule, lines, exit_status, oom=False, cut=False):
    """The outcome of a compare rule over `lines` (the chosen output's, or the artifacts file's),
    once the reproducer has ended by itself. `cut`: the lines stopped at the lab's limit."""
    if oom:
        return Decision("error", "compare.none", reason="the reproducer was killed by the OOM killer; its sections "
                                                        "say nothing about a finished run")
    c = sections.compare(rule, lines)
    extra = (("exit_status", exit_status),) + ((("output_cut", f"at {MAX_OUTPUT} bytes"),) if cut else ())
    return Decision(c.outcome, c.rule, reason=c.reason, evidence=tuple(c.evidence.items()) + extra,
                    attempts=c.treatments or 1)


MAX_OUTPUT = 8 * 1024 * 1024  # bytes of lines a compare rule keeps (as the log file)


class Streams:
    """A container's output frames (1 stdout, 2 stderr) → the lines of `source` (stdout, stderr or
    both) in the order they were written, at most MAX_OUTPUT bytes of them."""

    KINDS = {"stdout": (1,), "stderr": (2,), "both": (1, 2)}

    def __init__(self, source):
        self.buffers = {kind: Lines() for kind in self.KINDS[source]}
        self.lines, self.size, self.cut = [], 0, False

    def push(self, kind, data):
        if kind in self.buffers and not self.cut:
            self._keep(self.buffers[kind].push(data))

    def close(self):
        for buf in self.buffers.values():
            if not self.cut:
                self._keep(buf.close())
        return self.lines

    def _keep(self, lines):
        for line in lines:
            self.size += len(line) + 1
            if self.size > MAX_OUTPUT:
                self.cut = True
                return
            self.lines.append(line)


def file_lines(path):
    """The lines of a file the reproducer wrote (at most MAX_OUTPUT bytes): (lines, cut)."""
    with open(path, "rb") as f:
        data = f.read(MAX_OUTPUT + 1)
    cut = len(data) > MAX_OUTPUT
    lines = Lines()
    got = lines.push(data[:MAX_OUTPUT]) + lines.close()
    return got, cut


class Lines:
    """Byte chunks → complete lines (str), each cut at MAX_LINE bytes; bounded memory."""

    def __init__(self):
        self.buf = bytearray()
        self.cut = False

    def push(self, chunk):
        out = []
        pos = 0
        while pos < len(chunk):
            nl = chunk.find(b"\n", pos)
            stop = nl if nl >= 0 else len(chunk)
            if not self.cut:
                self.buf += chunk[pos:stop]
                if len(self.buf) > MAX_LINE:
                    del self.buf[MAX_LINE:]
                    self.cut = True
            if nl < 0:
                break
            out.append(self._take())
            pos = nl + 1
        return out

    def close(self):
        return [self._take()] if self.buf else []

    def _take(self):
        line = bytes(self.buf).decode("utf-8", "replace").rstrip("\r")
        self.buf.clear()
        self.cut = False
        return line
