"""Training and evaluating one model, its costs and progress; never MLflow.

Imports: architectures, settings, errors, runtime, data.
"""
