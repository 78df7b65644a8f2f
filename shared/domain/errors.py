"""The one not-found error: the record a request, a command or a file addresses does not
exist. Each entry point translates it (intake: 404; mail-in: a refusal; the CLI: a line)."""


class NotFound(Exception):
    """`what` names the record: "ticket 100000", "agent 'john'", "help topic 'x'"."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")
        self.what = what
