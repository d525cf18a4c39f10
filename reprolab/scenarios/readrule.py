"""A scenario's `read` rule: how to judge an unmodified upstream reproducer (the model; runs.reading
and runs.sections apply it).

The rule is data a scenario declares. A line rule (Rule): what output or exit status shows the bug,
and what exposure (seconds run, attempt lines seen) ends a run that never showed it. A compare rule
(Compare): the output's sections, a control and treatments, whose facts differ when the bug shows.
Pure.
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


@dataclass(frozen=True)
class Section:
    """A part of the output: from a line matching `marker` to the next marker line (or the end).
    `count`: how many times the marker must appear (a treatment repeated, e.g. four runs)."""
    name: str
    marker: str
    count: int = 1

    def names(self):
        """The name of each occurrence: `name`, or `name.1` … `name.N` for a repeated section."""
        return [self.name] if self.count == 1 else [f"{self.name}.{i}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class Compare:
    """A reproducer that prints the same facts once without the suspect (the control) and once or
    more with it (treatments): reproduced when a treatment's facts differ from the control's.

    `facts`: the regex whose matching lines are the facts; `key`: the group naming a fact (facts are
    then compared name by name), 0 for unnamed facts (compared as a list); `value`: the group
    compared, 0 for the whole match; `normalize`: ((pattern, replacement), ...) applied to each
    value (a timestamp in a path). Read from `source` (stdout, stderr, both) or, when `file` is set,
    from that file of the artifacts folder. `sample`: a recorded output, checked by validate."""
    control: Section
    treatments: tuple
    facts: str
    key: int = 0
    value: int = 0
    normalize: tuple = ()
    source: str = "stdout"
    file: str = ""
    sample: str = ""
    attempt = ""  # no attempt lines: the treatments are the attempts

    @classmethod
    def from_data(cls, data):
        def section(d):
            return Section(d["name"], d["marker"], d.get("count", 1))
        return cls(control=section(data["control"]), treatments=tuple(section(t) for t in data["treatments"]),
                   facts=data["facts"], key=data.get("key", 0), value=data.get("value", 0),
                   normalize=tuple((n["pattern"], n["replace"]) for n in data.get("normalize") or ()),
                   source=data.get("from", "stdout"), file=data.get("file", ""), sample=data.get("sample", ""))

    def sections(self):
        return (self.control,) + self.treatments

    def describe(self):
        """The rule in one line, as the record keeps it."""
        where = f"artifacts file {self.file}" if self.file else self.source
        treated = ", ".join(t.name + (f" (x{t.count})" if t.count > 1 else "") for t in self.treatments)
        what = f"group {self.value}" if self.value else "the whole match"
        named = f", named by group {self.key}" if self.key else ""
        return (f"compare in {where}: section {self.control.name} (control) against {treated}; facts: {what} of "
                f"lines matching /{self.facts}/{named}; reproduced when a treatment's facts differ from the control's")


def from_data(data):
    """The rule a `read` mapping declares: a Compare when it has `compare`, else a line Rule."""
    return Compare.from_data(data["compare"]) if "compare" in data else Rule.from_data(data)
