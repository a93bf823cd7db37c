"""Progress a person can follow during long training: one line per epoch with time left."""

from __future__ import annotations

import logging
import time

import keras

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """Seconds as '1h 02m', '3m 07s' or '12s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


class EpochProgress(keras.callbacks.Callback):
    """Log which architecture, which epoch, validation accuracy and the time left at most."""

    def __init__(self, label: str, epochs: int) -> None:
        super().__init__()
        self.label, self.epochs = label, epochs
        self.started = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        done = epoch + 1
        per_epoch = (time.perf_counter() - self.started) / done
        left = per_epoch * (self.epochs - done)
        log.info(
            f"{self.label} epoch {done}/{self.epochs}  loss {logs.get('loss', float('nan')):.4f}"
            f"  val_accuracy {logs.get('val_accuracy', float('nan')):.4f}"
            f"  {per_epoch:.1f} s/epoch  at most {duration(left)} left"
        )
