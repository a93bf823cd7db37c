"""Ctrl-C and SIGTERM during training stop between batches, never inside TensorFlow's code."""

from __future__ import annotations

import os
import signal

import keras
import pytest

import architectures
from benchmark.data.splits import Splits
from benchmark.runtime import stop_on_sigterm
from benchmark.training import costs, interrupts
from benchmark.training.runner import fit, train_and_evaluate

MLP = architectures.get("mlp")
# 300 training images in batches of 8: 38 batches an epoch, more than one call into training
# even with steps_per_execution 16.
SMALL_BATCHES = {**MLP.defaults, "epochs": 3, "batch_size": 8}


class SignalAt(keras.callbacks.Callback):
    """Send the process `count` signals when the `at`-th call into training (from 0) begins.

    Counts the calls that began and ended (one per batch, or per `steps_per_execution`
    batches), so a test sees where training stopped.
    """

    def __init__(self, signal_number: int, at: int = 2, count: int = 1) -> None:
        super().__init__()
        self.signal_number, self.at, self.count = signal_number, at, count
        self.began = 0
        self.ended = 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.began += 1
        if self.began == self.at + 1:
            for _ in range(self.count):
                os.kill(os.getpid(), self.signal_number)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.ended += 1


@pytest.fixture
def sigterm_raises():
    """SIGTERM handled as `run` handles it (KeyboardInterrupt); the old handler put back after."""
    previous = signal.getsignal(signal.SIGTERM)
    stop_on_sigterm()
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_a_signal_during_training_stops_after_the_batch_it_arrived_in(
    tiny_splits: Splits, sigterm_raises, signal_number: int
) -> None:
    handler = signal.getsignal(signal_number)
    sender = SignalAt(signal_number, at=2)
    with pytest.raises(KeyboardInterrupt) as raised:
        fit(MLP, SMALL_BATCHES, tiny_splits, callbacks=[sender], early_stopping=False)
    # The third call ran to its end and no fourth began: the interrupt came between them,
    # raised by the check, not by Python wherever the main thread happened to be.
    assert (sender.began, sender.ended) == (3, 3)
    assert raised.traceback[-1].name == "check"
    assert signal.getsignal(signal_number) is handler  # put back


def test_a_second_signal_stops_at_once(tiny_splits: Splits) -> None:
    sender = SignalAt(signal.SIGINT, at=1, count=2)
    with pytest.raises(KeyboardInterrupt):
        fit(MLP, SMALL_BATCHES, tiny_splits, callbacks=[sender], early_stopping=False)
    assert (sender.began, sender.ended) == (2, 1)  # the second call did not run


def test_a_signal_during_evaluation_stops_before_the_run_is_returned(
    tiny_splits: Splits, monkeypatch: pytest.MonkeyPatch
) -> None:
    latency_ms = costs.latency_ms

    def latency_then_ctrl_c(*args, **kwargs):
        measured = latency_ms(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # deferred: the measurement is not cut short
        return measured

    monkeypatch.setattr(costs, "latency_ms", latency_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt) as raised:
        train_and_evaluate(MLP, {**MLP.defaults, "epochs": 1}, tiny_splits)
    assert raised.traceback[-1].name == "check"


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.deferred():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            interrupts.check()  # nothing recorded, nothing raised
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_signal_left_waiting_is_raised_on_leaving() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
    interrupts.check()  # cleared: nothing left to raise


def test_a_worker_acts_on_the_first_sigterm_and_ignores_its_copies(tiny_splits: Splits) -> None:
    """A `run --jobs` worker gets SIGTERM to its process group twice (from the sender and from
    its parent): the second must neither stop training inside TensorFlow nor cut short the
    clean-up that ends the run FAILED, which it did in 1 of 7 tries of `kill -- -PGID`."""
    previous = signal.getsignal(signal.SIGTERM)
    stop_on_sigterm(repeats=False)
    try:
        sender = SignalAt(signal.SIGTERM, at=1, count=2)
        with pytest.raises(KeyboardInterrupt) as raised:
            fit(MLP, SMALL_BATCHES, tiny_splits, callbacks=[sender], early_stopping=False)
        assert (sender.began, sender.ended) == (2, 2)  # stopped between calls, not at once
        assert raised.traceback[-1].name == "check"
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # the clean-up is safe
        os.kill(os.getpid(), signal.SIGTERM)  # a late copy: nothing raised
        interrupts.check()
    finally:
        signal.signal(signal.SIGTERM, previous)
