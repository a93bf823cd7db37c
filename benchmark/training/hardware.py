"""Which machine a timing came from: CPU model, cores, vector flags, GPU, oneDNN, precision."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

from benchmark import runtime

# CPU flags that decide how fast convolutions run here (as /proc/cpuinfo spells them).
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
NO_GPU = "none"


@functools.cache
def _first_cpu(path: str) -> dict[str, str] | None:
    """The first value of each /proc/cpuinfo key (the first CPU's), or None where unreadable."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_info(path: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU; the platform's processor string elsewhere."""
    fields = _first_cpu(path)
    if fields is None:
        return platform.processor() or platform.machine() or "unknown", frozenset()
    flags = fields.get("flags") or fields.get("Features") or ""  # "Features" on Arm
    return fields.get("model name") or platform.machine() or "unknown", frozenset(flags.split())


def cpu_generation(path: str = "/proc/cpuinfo") -> str:
    """ "family F model M" of the first x86 CPU, or "".

    Virtual machines may report only "AMD EPYC" as the model name for CPUs generations apart
    (Zen 1 and Zen 5 here), so the family and model numbers are what tells them apart.
    """
    fields = _first_cpu(path) or {}
    if "cpu family" not in fields or "model" not in fields:
        return ""
    return f"family {fields['cpu family']} model {fields['model']}"


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpus() -> list[tuple[str, str]]:
    """(device name, compute capability "8.0" or "") of every GPU TensorFlow sees."""
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        capability = details.get("compute_capability")
        found.append(
            (
                str(details.get("device_name", device.name)),
                ".".join(map(str, capability)) if capability else "",
            )
        )
    return found


def onednn_enabled() -> bool:
    """Whether TensorFlow runs oneDNN's custom operations in this process: TensorFlow's answer.

    TensorFlow decides once, when it loads, so the environment read afterwards may not say
    what it decided; it is asked instead, and `onednn_by_rule` answers only where it cannot be.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return onednn_by_rule()
    ask = getattr(_pywrap_util_port, "IsMklEnabled", None)
    return bool(ask()) if ask is not None else onednn_by_rule()


# TensorFlow's default on Linux (DefaultOneDnnPolicy in tensorflow/core/util/port.cc): oneDNN's
# custom operations only on CPUs with instructions for neural networks; AVX2 alone is not enough.
ONEDNN_DEFAULT_FLAGS = frozenset(
    {"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"}
)


def onednn_by_rule(
    setting: str | None = None, flags: frozenset[str] | None = None, system: str | None = None
) -> bool:
    """TensorFlow's rule: TF_ENABLE_ONEDNN_OPTS when set, else on for Linux x86 CPUs with
    the flags above (and always on x86 Windows). Arguments default to this process's own."""
    if setting is None:
        setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if setting is not None and setting.strip().lower() in ("0", "false", "1", "true"):
        return setting.strip().lower() in ("1", "true")
    if not runtime.x86():
        return False
    system = system or platform.system()
    if system == "Windows":
        return True
    if flags is None:
        flags = cpu_info()[1]
    return system == "Linux" and bool(flags & ONEDNN_DEFAULT_FLAGS)


def native_precisions() -> frozenset[str]:
    """The reduced precisions the device that trains computes natively.

    With a GPU, TensorFlow trains on it, so the GPU decides and the CPU's flags do not count:
    compute capability 8.0 or more has bfloat16 and float16 tensor cores, 7.x float16 only,
    older ones neither. Without one, the CPU: bfloat16 with avx512_bf16 or AMX. TensorFlow is
    imported to ask about GPUs only when a GPU driver is present.
    """
    major = gpu_major()
    if major is not None:
        return frozenset(
            {"bfloat16", "float16"} if major >= 8 else {"float16"} if major >= 7 else ()
        )
    _, flags = cpu_info()
    return frozenset({"bfloat16"}) if flags & {"avx512_bf16", "amx_bf16"} else frozenset()


def gpu_major() -> int | None:
    """The highest compute capability (major) of TensorFlow's GPUs; None when it sees none."""
    if not gpu_driver_present():
        return None
    found = gpus()
    return max(_major(capability) for _, capability in found) if found else None


def gpu_driver_present() -> bool:
    """False only where no GPU TensorFlow could use can exist: Linux without a driver's nodes.

    TensorFlow reaches GPUs on Linux through the NVIDIA driver (/proc/driver/nvidia, or
    /dev/dxg under WSL 2) or ROCm (/dev/kfd). Elsewhere this answers True and TensorFlow is asked.
    """
    if platform.system() != "Linux":
        return True
    return any(Path(node).exists() for node in ("/proc/driver/nvidia", "/dev/dxg", "/dev/kfd"))


def _major(capability: str) -> int:
    return int(capability.split(".")[0]) if capability else 0


# Read by TensorFlow as it starts: threads for one operation, and operations run at once.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def training_threads() -> int:
    """Threads TensorFlow computes one operation with here: every core unless told fewer.

    Told by tf.config.threading or, before TensorFlow starts, TF_NUM_INTRAOP_THREADS (what
    `run --jobs N` sets in its workers).
    """
    import tensorflow as tf

    cores = cpu_cores()
    told = tf.config.threading.get_intra_op_parallelism_threads()
    if not told:
        setting = os.environ.get(THREAD_VARIABLES[0], "").strip()
        told = int(setting) if setting.isdigit() else 0
    return min(told, cores) if told > 0 else cores


def fingerprint(precision: str | None = None) -> dict[str, str]:
    """Run tags naming the machine: `machine` in one line, then its parts.

    Timings taken with fewer training threads than cores (`run --jobs`) are another machine's
    as far as comparing seconds goes, so the thread count is part of `machine` then.
    """
    model, flags = cpu_info()
    cores = cpu_cores()
    threads = training_threads()
    devices = gpus()
    gpu = ", ".join(name for name, _ in devices) or NO_GPU
    if precision is None:
        import keras

        precision = keras.mixed_precision.global_policy().name
    generation = cpu_generation()
    described = f"{generation}, {cores} cores" if generation else f"{cores} cores"
    if threads < cores:
        described += f", {threads} thread" + ("s" if threads > 1 else "")
    machine = f"{model} ({described})" + ("" if gpu == NO_GPU else f", {gpu}")
    return {
        "machine": machine,
        "cpu_model": model,
        "cpu_generation": generation or "unknown",
        "cpu_cores": str(cores),
        "threads": str(threads),  # TensorFlow's threads per operation in the training process
        "cpu_flags": ",".join(flag for flag in RELEVANT_FLAGS if flag in flags) or "none",
        "gpu": gpu,
        "gpu_compute_capability": ",".join(cap for _, cap in devices if cap) or "none",
        "onednn": "on" if onednn_enabled() else "off",
        "precision": precision,
    }
