"""Training and evaluating one model, its costs and progress; imports data, never MLflow."""
