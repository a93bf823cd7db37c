"""The one exception type for errors a user can cause."""


class BenchmarkError(Exception):
    """A problem the user can fix; the CLI prints its message as one line and exits non-zero."""
