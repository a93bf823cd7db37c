"""The self-contained HTML report of an experiment; imports results, tracking and data."""
