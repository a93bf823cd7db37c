"""Classifying image files with a registered model.

Imports: errors, data.
"""
