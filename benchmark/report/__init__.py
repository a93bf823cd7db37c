"""The self-contained HTML report of an experiment.

Imports: settings, errors, runtime, data, tracking, results, figures.
"""

from benchmark.report.build import write_report
from benchmark.report.page import default_folder

__all__ = ["default_folder", "write_report"]
