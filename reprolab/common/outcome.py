"""The closed vocabulary of outcomes and the rule that compares an outcome with its expectation."""

import enum


class Outcome(str, enum.Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not-reproduced"
    HANG = "hang"
    SKIPPED = "skipped"
    ERROR = "error"

    def __str__(self):
        return self.value


OUTCOMES = tuple(o.value for o in Outcome)
# What a reproducer may claim on its verdict line; `hang` is only ever decided by the harness.
VERDICT_OUTCOMES = ("reproduced", "not-reproduced", "skipped", "error")


def match(outcome, expected):
    """'yes' when the outcome is what the variant expects, 'skip' for an unexpected skip, else 'no'."""
    if outcome == expected:
        return "yes"
    if outcome == Outcome.SKIPPED.value:
        return "skip"
    return "no"
