"""The machine fingerprint: parsed from a real /proc/cpuinfo shape, and logged on every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import runtime
from benchmark.training import hardware

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni avx512_bf16
processor\t: 1
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu
"""


def test_cpu_info_reads_the_first_cpu(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(ZEN4)
    model, flags = hardware.cpu_info(str(cpuinfo))
    assert model == "AMD EPYC 9R14 96-Core Processor"
    assert {"avx2", "avx512f", "avx512_bf16"} <= flags
    assert hardware.cpu_generation(str(cpuinfo)) == "family 25 model 17"


def test_fingerprint_names_the_gpu_when_tensorflow_sees_one(monkeypatch) -> None:
    monkeypatch.setattr(hardware, "gpus", lambda: [("NVIDIA A100-SXM4-40GB", "8.0")])
    tags = hardware.fingerprint(precision="bfloat16")
    assert tags["machine"].endswith(", NVIDIA A100-SXM4-40GB")
    assert tags["gpu"] == "NVIDIA A100-SXM4-40GB"
    assert tags["gpu_compute_capability"] == "8.0"


def test_fingerprint_names_this_machine() -> None:
    tags = hardware.fingerprint(precision="float32")
    model, flags = hardware.cpu_info()
    assert tags["cpu_model"] == model
    assert tags["machine"].startswith(model)
    generation = hardware.cpu_generation()
    assert tags["cpu_generation"] == (generation or "unknown")
    assert generation in tags["machine"], "one model name can cover CPUs generations apart"
    assert int(tags["cpu_cores"]) >= 1
    assert tags["gpu"] == hardware.NO_GPU or tags["gpu"]
    assert tags["onednn"] in ("on", "off")
    assert tags["precision"] == "float32"
    shown = set(tags["cpu_flags"].split(",")) - {"none"}
    assert shown == {flag for flag in hardware.RELEVANT_FLAGS if flag in flags}


def test_fewer_training_threads_than_cores_are_part_of_the_machine(monkeypatch) -> None:
    # `run --jobs 2` on 4 cores: its workers train with 2 threads, and their seconds must not
    # be compared with those of a process that had all 4.
    monkeypatch.setattr(hardware, "cpu_cores", lambda: 4)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    every_core = hardware.fingerprint("float32")
    assert every_core["threads"] == "4"
    assert "4 cores)" in every_core["machine"] and "thread" not in every_core["machine"]
    for setting, shown in (("2", "4 cores, 2 threads)"), ("1", "4 cores, 1 thread)")):
        monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", setting)
        tags = hardware.fingerprint("float32")
        assert tags["threads"] == setting
        assert shown in tags["machine"]
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "16")  # more than the cores: every core
    assert hardware.fingerprint("float32")["threads"] == "4"


ZEN1_FLAGS = frozenset({"sse2", "avx", "avx2", "fma"})
ZEN5_FLAGS = ZEN1_FLAGS | {"avx512f", "avx512_vnni", "avx512_bf16"}


def test_onednn_by_tensorflows_rule() -> None:
    # TensorFlow turns oneDNN on by itself only where the CPU has neural-network instructions:
    # an AVX2-only EPYC (Zen 1) runs without it unless TF_ENABLE_ONEDNN_OPTS=1 asks.
    assert not hardware.onednn_by_rule(None, ZEN1_FLAGS, "Linux")
    assert hardware.onednn_by_rule(None, ZEN5_FLAGS, "Linux")
    assert hardware.onednn_by_rule("1", ZEN1_FLAGS, "Linux")
    assert not hardware.onednn_by_rule("0", ZEN5_FLAGS, "Linux")
    assert hardware.onednn_by_rule("yes", ZEN5_FLAGS, "Linux"), "an unreadable value: default"


def python_with_onednn(setting: str | None, script: str) -> list[str]:
    """The words `script` prints in a fresh process whose TF_ENABLE_ONEDNN_OPTS is `setting`
    (None: unset), as a user's shell would start `run`."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()


def test_the_onednn_tag_is_what_tensorflow_decided() -> None:
    # In a fresh process: the tag must agree with TensorFlow itself, which decided when it
    # loaded (the environment alone said "on" on an AVX2-only CPU where it was off).
    script = (
        "from benchmark.training import hardware\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "print(hardware.fingerprint('float32')['onednn'], _pywrap_util_port.IsMklEnabled())\n"
    )
    tag, decided = python_with_onednn(None, script)[-2:]
    assert tag == ("on" if decided == "True" else "off")
    assert tag == ("on" if hardware.onednn_by_rule("", hardware.cpu_info()[1]) else "off")


@pytest.mark.skipif(not runtime.onednn_chosen_here(), reason="oneDNN is chosen on x86 Linux only")
@pytest.mark.parametrize("setting, expected", [(None, "on"), ("0", "off")])
def test_run_trains_with_onednn_unless_the_environment_says_otherwise(setting, expected) -> None:
    # As `run` and `tune` load TensorFlow; TensorFlow alone would leave oneDNN off on AVX2-only
    # CPUs, where it measured faster on (docs/results.md#onednn-on-and-off-run---all).
    script = (
        "from benchmark import runtime\n"
        "runtime.import_tensorflow_quietly()\n"
        "from benchmark.training import hardware\n"
        "print(hardware.fingerprint('float32')['onednn'])\n"
    )
    assert python_with_onednn(setting, script)[-1] == expected
