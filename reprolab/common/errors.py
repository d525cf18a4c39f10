"""One error root for the lab: user mistakes and infrastructure failures, each with what to do next."""


class LabError(Exception):
    """Root of every expected failure; the CLI maps it to exit code 2 and one clear line."""

    exit_code = 2


class UserError(LabError):
    """Bad input: a wrong argument, an unknown scenario, an invalid file."""


class EngineError(LabError):
    """The container engine is missing, unreachable or refused an operation."""


class ScenarioError(UserError):
    """One or more scenario files are invalid; carries every problem as 'file:line: message'."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RecordError(UserError):
    """A record file is corrupt, foreign or of another schema version."""


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; the run stops, cleans up and keeps what it gathered."""

    def __init__(self, signum):
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")
