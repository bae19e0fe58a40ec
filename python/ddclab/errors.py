"""The one error type users see.

Anything the user got wrong (a scenario key, a file, a trace row, a command-line
value) raises :class:`DdclabError` with a one-line message that names the key,
file or line. The CLI prints it as ``error: ...`` and exits with code 2; it never
shows a traceback for bad input.
"""


class DdclabError(Exception):
    """A user-facing error: one line, naming what was wrong and where."""

    exit_code = 2

    def __init__(self, message: str):
        # Keep it to one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))
