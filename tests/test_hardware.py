"""The machine fingerprint: parsed from a real /proc/cpuinfo shape, and logged on every run."""

from __future__ import annotations

from pathlib import Path

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


def test_onednn_follows_the_switch(monkeypatch) -> None:
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not hardware.onednn_enabled()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    assert hardware.onednn_enabled()
