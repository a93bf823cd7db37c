"""CNN architecture benchmark: train, track in MLflow, tune with Optuna, compare and report.

Layers, bottom to top; a package imports only from layers below it:
settings, errors, logs, runtime, redaction -> data -> training -> tracking -> results, tuning
-> report, serving -> suite -> cli. `tuning.worker` is the one spawn target (tuning.search
starts it in a new process).
"""
