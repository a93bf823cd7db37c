"""Data sets: obtain, verify, cache and split them, read images; imports settings, errors."""
