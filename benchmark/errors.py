"""The one exception type for errors a user can cause, and the exit codes the command ends with."""

EXIT_USER_ERROR = 2  # a bad command line, or any other error the user can fix
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: finished runs are kept (128 + SIGINT, as shells do)


class BenchmarkError(Exception):
    """A problem the user can fix; the CLI prints its message as one line and exits non-zero."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message, for a one-line report; its repr when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)
