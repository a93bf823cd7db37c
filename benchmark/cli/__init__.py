"""The command line, the top layer: parse arguments and call the layers below."""

from benchmark.cli.arguments import EXIT_USER_ERROR
from benchmark.cli.main import main

__all__ = ["EXIT_USER_ERROR", "main"]
