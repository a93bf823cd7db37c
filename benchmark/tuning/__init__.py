"""Optuna studies over an architecture's search space.

Imports: architectures, settings, errors, logs, runtime, redaction, data, training, tracking,
figures.
"""
