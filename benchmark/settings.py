"""Defaults shared by the command line and the layers below, free of their heavy imports."""

# SQLite, not Optuna's journal file: only RDB storages have heartbeats in Optuna 5, and the
# heartbeat is what turns a killed worker's trial into a failed-and-retried one.
DEFAULT_STORAGE = "sqlite:///optuna.db"  # Optuna study storage, in the working directory
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow store, in the working directory
DEFAULT_EXPERIMENT = "cnn-benchmark"  # MLflow experiment name
