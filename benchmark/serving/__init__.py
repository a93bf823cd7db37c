"""Classifying image files with a registered model; imports data and tracking."""
