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
    model, flags = hardware.cpu_info.__wrapped__(str(cpuinfo))
    assert model == "AMD EPYC 9R14 96-Core Processor"
    assert {"avx2", "avx512f", "avx512_bf16"} <= flags
    assert hardware.cpu_generation.__wrapped__(str(cpuinfo)) == "family 25 model 17"


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


def test_onednn_is_switched_off_only_on_x86_without_avx512(monkeypatch) -> None:
    """AVX2-only x86 trains faster on TensorFlow's own kernels; a user's choice always stands."""
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "")  # records the real value, restored after
    cases = [
        ({"avx2", "fma"}, None, "0"),  # Zen 1/2: off
        ({"avx2", "fma", "avx512f", "avx512_bf16"}, None, None),  # Zen 4/5: TensorFlow's default
        ({"avx2", "fma"}, "1", "1"),  # the user's setting is kept
        (set(), None, None),  # no flags known (not Linux): left alone
    ]
    for flags, before, after in cases:
        monkeypatch.setattr(hardware, "cpu_info", lambda flags=flags: ("cpu", frozenset(flags)))
        if before is None:
            monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        else:
            monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", before)
        hardware.choose_onednn()
        assert hardware.os.environ.get("TF_ENABLE_ONEDNN_OPTS") == after, flags
        assert hardware.onednn_enabled() == (after != "0")
