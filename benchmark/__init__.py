"""CNN architecture benchmark: train, track in MLflow, tune with Optuna, compare and report.

Layers, bottom to top; a package imports only from layers below it:
settings, errors, logs, runtime, redaction -> data -> training -> tracking -> results ->
figures -> tuning, report, serving -> plan -> suite, parallel -> cli. `tracking` only talks
to MLflow: figures are drawn in `figures` and handed to it as PNG bytes. Spawn targets, a
process rather than an import: `tuning.worker` (tuning.search starts it) and `parallel.work`
(a `run --jobs` worker, which imports the suite it serves).
"""
