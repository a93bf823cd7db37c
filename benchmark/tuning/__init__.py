"""Optuna studies over an architecture's search space; imports training, data, tracking, figures."""
