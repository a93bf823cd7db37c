"""The command line, the top layer: parse arguments and call the layers below.

Imports: architectures, settings, errors, logs, runtime, redaction, data, training, tracking,
results, tuning, report, serving, grid, suite.
"""

from benchmark.cli.main import main
from benchmark.errors import EXIT_USER_ERROR

__all__ = ["EXIT_USER_ERROR", "main"]
