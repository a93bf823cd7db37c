"""The self-contained HTML report of an experiment; imports results, tracking, figures and data."""

from benchmark.report.build import write_report
from benchmark.report.page import default_folder

__all__ = ["default_folder", "write_report"]
