"""Data sets: obtain, verify, cache and split them, read images.

Imports: settings, errors.
"""
