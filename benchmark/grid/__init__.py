"""`run`'s grid as one Optuna study: cells queued once, taken by workers on any machine.

Imports: architectures, settings, errors, logs, runtime, redaction, data, training, tracking,
figures, tuning, results.

The suite queues the cells and reads the results; `grid.processes.main` is the spawn target of
`run --jobs N`'s local workers and imports only the grid.
"""
