"""The self-contained HTML report of an experiment; imports results, tracking and data."""

from benchmark.report.build import default_folder, write_report

__all__ = ["default_folder", "write_report"]
