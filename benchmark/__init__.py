"""CNN architecture benchmark: train, track in MLflow, tune with Optuna, compare and report.

Layers, bottom to top; a package imports only from layers below it:
settings, errors -> data -> training -> tracking -> results, tuning -> report, serving
-> suite -> cli.
"""
