"""The read side: runs as one table, leaderboard, significance, champion.

Imports: settings, tracking.
"""
