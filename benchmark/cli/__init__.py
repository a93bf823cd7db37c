"""The command line, the top layer: parse arguments and call the layers below."""

from benchmark.cli.main import main
from benchmark.errors import EXIT_USER_ERROR

__all__ = ["EXIT_USER_ERROR", "main"]
