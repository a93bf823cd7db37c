"""CNN architecture benchmark: train, track in MLflow, tune with Optuna, compare and report.

Layers, bottom to top; a package imports only from layers below it:
settings, errors, logs, runtime, redaction -> data -> training -> tracking -> results ->
figures -> tuning, report, serving, grid -> plan -> suite -> cli. `tracking` only talks to
MLflow: figures are drawn in `figures` and handed to it as PNG bytes. One spawn target, a
process rather than an import: `tuning.worker` (tuning.search starts it). `grid.processes.main`,
a `run --jobs` worker, imports only the grid below it.
"""
