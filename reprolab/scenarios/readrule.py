"""A scenario's `read` rule: how to judge an unmodified upstream reproducer (the model; runs.reading applies it).

The rule is data a scenario declares: what output or exit status shows the bug, and what exposure
(seconds run, attempt lines seen) ends a run that never showed it. Pure.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    reproduced_exit: tuple = ()
    reproduced_stdout: str = ""
    reproduced_stderr: str = ""
    attempt: str = ""
    after_seconds: int = 0
    after_attempts: int = 0
    not_reproduced_exit: tuple = ()

    @classmethod
    def from_data(cls, data):
        rep, nrep = data.get("reproduced") or {}, data.get("not_reproduced") or {}
        return cls(reproduced_exit=tuple(rep.get("exit_status") or ()), reproduced_stdout=rep.get("stdout", ""),
                   reproduced_stderr=rep.get("stderr", ""), attempt=data.get("attempt", ""),
                   after_seconds=nrep.get("after_seconds", 0), after_attempts=nrep.get("after_attempts", 0),
                   not_reproduced_exit=tuple(nrep.get("exit_status") or ()))

    def describe(self):
        """The rule in one line, as the record keeps it."""
        rep = [f"exit status in {list(self.reproduced_exit)}"] if self.reproduced_exit else []
        rep += [f"{s} matches /{p}/" for s, p in (("stdout", self.reproduced_stdout),
                                                   ("stderr", self.reproduced_stderr)) if p]
        nrep = [f"{self.after_seconds} s run"] if self.after_seconds else []
        nrep += [f"{self.after_attempts} lines matching /{self.attempt}/"] if self.after_attempts else []
        nrep += [f"exit status in {list(self.not_reproduced_exit)}"] if self.not_reproduced_exit else []
        return f"reproduced when {' or '.join(rep)}; not-reproduced after {' or '.join(nrep)} with no match"
