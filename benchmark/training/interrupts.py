"""Ctrl-C and SIGTERM while TensorFlow works take effect between its steps, never inside one.

Python raises KeyboardInterrupt at whatever bytecode the main thread is on. Inside Keras and
TensorFlow's Python layers that can be half-way through creating a dataset iterator, entering
a device or name scope or running a finaliser, which leaves native state inconsistent: a CI run
of `tests/test_faults_run.py` saw the process abort with "free(): invalid next size" within
0.1 s of a Ctrl-C during training. So while `deferred()` is active a first signal is only
recorded, and `check()` (called by `BetweenSteps` before every training, validation and
prediction batch, and between other calls into TensorFlow) raises KeyboardInterrupt at a
point where nothing is half-done. A second signal raises at once: the user insists; but not
where the handler acts on the first signal only (`runtime.stop_on_sigterm(repeats=False)`, a
`run --jobs` worker): there later copies are ignored for good.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import keras

from benchmark import runtime

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []  # signals recorded while deferred, not yet acted on
_replaced: dict[int, object] = {}  # the handlers the outermost active deferred() replaced
_ignored: set[int] = set()  # signals whose repeats are ignored from now on


def _record(signum: int, frame: object) -> None:
    if runtime.ignores_repeats(_replaced.get(signum)):
        signal.signal(signum, signal.SIG_IGN)  # as the replaced handler would have done
        _ignored.add(signum)
    else:
        check()  # a second signal raises at once
    _received.append(signum)


def check() -> None:
    """Raise KeyboardInterrupt if a signal arrived while deferred; a safe point to stop at."""
    if _received:
        _received.clear()
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM that would raise KeyboardInterrupt wait for `check()`.

    Only handlers written in Python are replaced (an ignored or default signal stays as it
    was), only in the main thread (the only one Python delivers signals to), and they are put
    back on leaving; a signal still waiting then raises KeyboardInterrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    replaced = {
        number: handler
        for number in _SIGNALS
        if callable(handler := signal.getsignal(number)) and handler is not _record
    }
    for number in replaced:
        signal.signal(number, _record)
    _replaced.update(replaced)
    try:
        yield
    finally:
        for number, handler in replaced.items():
            del _replaced[number]
            if number not in _ignored:
                signal.signal(number, handler)  # type: ignore[arg-type]
        if replaced:
            check()


class BetweenSteps(keras.callbacks.Callback):
    """Stop fit, evaluate or predict before the next batch once a deferred signal arrived.

    Batch *begin* hooks run in the main thread; overriding a batch *end* hook would turn off
    Keras' asynchronous dispatch of batch logs.
    """

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        check()

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        check()

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        check()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        check()  # before Keras makes the epoch's dataset iterator, not only before its batches
