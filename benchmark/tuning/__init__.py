"""Optuna studies over an architecture's search space; imports training, data and tracking."""
