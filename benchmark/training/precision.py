"""Which arithmetic a run trains in: `--precision` resolved for this machine, and its Keras policy.

Importing this module loads neither Keras nor TensorFlow, so the command line can refuse an
impossible `--precision bfloat16` or `float16` before the slow imports.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from benchmark.errors import BenchmarkError
from benchmark.training import hardware

# The Keras dtype policy of each resolved precision: mixed keeps variables in float32. Under
# mixed_float16 Keras wraps the optimizer in a LossScaleOptimizer itself (float16's narrow range).
KERAS_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
REDUCED = ("bfloat16", "float16")  # the precisions hardware may lack, in auto's order of preference
WITHOUT = {  # why a reduced precision is refused where the hardware lacks it
    "bfloat16": "this machine has no native bfloat16 (CPU flag avx512_bf16 or amx_bf16 and no "
    "GPU, or a GPU of compute capability 8.0 or more: with a GPU, the GPU trains)",
    "float16": "float16 needs a GPU of compute capability 7.0 or more (tensor cores), and this "
    "machine has none",
}


def resolve(asked: str) -> str:
    """float32, bfloat16 or float16: what `asked` means on this machine.

    auto picks what the device that trains does best: bfloat16 where it is native (CPU
    avx512_bf16 or AMX, GPU 8.0+), float16 on a GPU of compute capability 7.x, else float32.
    A reduced precision asked on hardware without it is refused, naming what auto would pick;
    it is not quietly replaced, since emulated arithmetic is slower than float32 and the run
    would name a precision the machine does not have.
    """
    if asked not in ("auto", *KERAS_POLICIES):
        raise BenchmarkError(
            f"unknown precision {asked!r}; choose auto, {', '.join(KERAS_POLICIES)}"
        )
    if asked == "float32":
        return "float32"
    native = hardware.native_precisions()
    pick = next((name for name in REDUCED if name in native), "float32")
    if asked == "auto":
        return pick
    if asked not in native:
        raise BenchmarkError(
            f"--precision {asked}: {WITHOUT[asked]}; --precision auto would pick {pick}"
        )
    return asked


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
