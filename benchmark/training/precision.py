"""Which arithmetic a run trains in: `--precision` resolved for this machine, and its Keras policy.

Importing this module loads neither Keras nor TensorFlow, so the command line can refuse an
impossible `--precision bfloat16` before the slow imports.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from benchmark.errors import BenchmarkError
from benchmark.training import hardware

# The Keras dtype policy of each resolved precision: mixed keeps variables in float32.
KERAS_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def resolve(asked: str) -> str:
    """float32 or bfloat16: what `asked` (auto, float32, bfloat16) means on this machine.

    bfloat16 asked on hardware without it is refused, naming what auto would pick; it is not
    quietly replaced, since emulated bfloat16 is slower than float32 and the run would say
    bfloat16 about a machine that does not have it.
    """
    if asked not in ("auto", *KERAS_POLICIES):
        raise BenchmarkError(f"unknown precision {asked!r}; choose auto, float32 or bfloat16")
    if asked == "float32":
        return "float32"
    native = hardware.native_bfloat16()
    if asked == "auto":
        return "bfloat16" if native else "float32"
    if not native:
        raise BenchmarkError(
            "--precision bfloat16: this machine has no native bfloat16 (CPU flag avx512_bf16 "
            "or amx_bf16, or a GPU of compute capability 8.0 or more); --precision auto would "
            "pick float32"
        )
    return "bfloat16"


@contextlib.contextmanager
def policy(precision: str) -> Iterator[None]:
    """Build models under the Keras dtype policy of `precision`; restore the old one after."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(KERAS_POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
