"""--precision: resolved for the machine, refused where it is not native, logged per run."""

from __future__ import annotations

import keras
import pytest
from mlflow.tracking import MlflowClient

from benchmark.cli import EXIT_USER_ERROR, main
from benchmark.errors import BenchmarkError
from benchmark.training import hardware, precision
from tests.conftest import in_fresh_process

AVX2_ONLY = ("AMD EPYC 7B12", frozenset({"avx", "avx2", "fma"}))
ZEN5 = ("AMD EPYC 9B45", frozenset({"avx2", "avx512f", "avx512_bf16"}))


@pytest.fixture
def cpu(monkeypatch: pytest.MonkeyPatch):
    """Pretend to be a given CPU with no GPU driver; call it with (model, flags)."""
    monkeypatch.setattr(hardware, "gpu_driver_present", lambda: False)
    return lambda info: monkeypatch.setattr(hardware, "cpu_info", lambda: info)


def test_auto_picks_bfloat16_only_where_the_cpu_has_it(cpu) -> None:
    cpu(AVX2_ONLY)
    assert precision.resolve("auto") == "float32"
    assert precision.resolve("float32") == "float32"
    cpu(ZEN5)
    assert precision.resolve("auto") == "bfloat16"
    assert precision.resolve("bfloat16") == "bfloat16"
    assert precision.resolve("float32") == "float32"


def test_bfloat16_without_native_support_is_refused_naming_what_auto_picks(cpu) -> None:
    cpu(AVX2_ONLY)
    with pytest.raises(BenchmarkError, match="no native bfloat16.*auto would pick float32"):
        precision.resolve("bfloat16")
    with pytest.raises(BenchmarkError, match="unknown precision 'float8'"):
        precision.resolve("float8")
    with pytest.raises(BenchmarkError, match="float16 needs a GPU.*auto would pick float32"):
        precision.resolve("float16")
    cpu(ZEN5)  # bfloat16 on the CPU does not make float16 native
    with pytest.raises(BenchmarkError, match="float16 needs a GPU.*auto would pick bfloat16"):
        precision.resolve("float16")


@pytest.fixture
def gpu(cpu, monkeypatch: pytest.MonkeyPatch):
    """Pretend a Zen 5 CPU (native bfloat16) beside GPUs of the given compute capabilities."""

    def pretend(*capabilities: str) -> None:
        cpu(ZEN5)
        monkeypatch.setattr(hardware, "gpu_driver_present", lambda: True)
        found = [(f"GPU {capability}", capability) for capability in capabilities]
        monkeypatch.setattr(hardware, "gpus", lambda: found)

    return pretend


def test_with_a_gpu_auto_picks_what_the_gpu_does_best_whatever_the_cpu(gpu) -> None:
    gpu("8.6")  # Ampere and later: bfloat16 (no loss scaling), float16 allowed too
    assert precision.resolve("auto") == "bfloat16"
    assert precision.resolve("float16") == "float16"
    gpu("7.5")  # Turing: float16 tensor cores, no bfloat16, though the CPU has it
    assert precision.resolve("auto") == "float16"
    with pytest.raises(BenchmarkError, match="no native bfloat16.*auto would pick float16"):
        precision.resolve("bfloat16")
    gpu("6.1")  # Pascal: neither
    assert precision.resolve("auto") == "float32"
    with pytest.raises(BenchmarkError, match="float16 needs a GPU.*auto would pick float32"):
        precision.resolve("float16")
    gpu("7.0", "8.0")  # the best GPU decides
    assert precision.resolve("auto") == "bfloat16"
    gpu()  # a driver but no GPU TensorFlow can use: the CPU decides
    assert precision.resolve("auto") == "bfloat16"


def test_float16_builds_a_loss_scaled_model_that_trains_with_a_float32_output() -> None:
    """What auto picks on a 7.x GPU, trained here on the CPU (slowly, but the same graph)."""
    import numpy as np

    import architectures
    from benchmark.data.splits import load_splits
    from benchmark.training.runner import build_model

    splits = load_splits(subset=200)
    arch = architectures.get("lenet5")
    model = build_model(arch, arch.params(), splits, "float16")
    assert keras.config.dtype_policy().name == "float32"  # restored after the build
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    assert model.layers[0].compute_dtype == "float16"
    assert model.layers[-1].compute_dtype == "float32"
    x = splits.x_train[..., None].astype("float32") / 255.0
    history = model.fit(x, splits.y_train, batch_size=50, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x[:4], verbose=0).dtype == np.float32


@pytest.mark.parametrize("command", [["run", "--arch", "basic"], ["tune", "--arch", "basic"]])
def test_the_command_line_refuses_it_in_one_line_before_anything_is_made(
    command, cpu, tmp_path, monkeypatch, capsys
) -> None:
    cpu(AVX2_ONLY)
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--precision", "bfloat16"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: --precision bfloat16: this machine has no native bfloat16")
    assert "--precision auto would pick float32" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_refusal_comes_before_tensorflow_loads(tmp_path) -> None:
    """In a fresh process on a pretended AVX2-only CPU without a GPU driver."""
    script = (
        "from benchmark.cli import main\nfrom benchmark.training import hardware\n"
        f"hardware.cpu_info = lambda: {AVX2_ONLY!r}\n"
        "hardware.gpu_driver_present = lambda: False\n"
        "assert main(['run', '--all', '--precision', 'bfloat16']) == 2\n"
    )
    done, loaded = in_fresh_process(script, tmp_path)
    assert loaded == []
    assert "auto would pick float32" in done.stderr


def test_policy_is_restored_after_the_block_even_when_it_fails() -> None:
    assert keras.config.dtype_policy().name == "float32"
    with precision.policy("bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError), precision.policy("bfloat16"):
        raise RuntimeError("build failed")
    assert keras.config.dtype_policy().name == "float32"


def test_a_float32_run_logs_its_precision_and_keeps_the_hash_it_had_before(
    tmp_path, monkeypatch
) -> None:
    from benchmark.data.splits import load_splits
    from benchmark.training import identity

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["run", "--arch", "mlp", "--subset", "300", "--epochs", "1", "--tracking-uri", uri]
    assert main([*args, "--precision", "float32"]) == 0
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("cnn-benchmark")
    (run,) = client.search_runs([experiment.experiment_id], "tags.run_kind = 'training'")
    assert run.data.params["precision"] == "float32"
    assert run.data.tags["precision"] == "float32"
    parent = client.get_run(run.data.tags["comparison_run_id"])
    assert parent.data.params["precision"] == "float32"
    # The hash of the same configuration as computed before --precision existed.
    before = {
        "early_stopping": False,
        "validation_fraction": 0.1,
        "subset": 300,
        "split_seed": 0,
        "params_source": "default",
    }
    import architectures

    params = architectures.get("mlp").params({"epochs": 1})
    splits = load_splits(subset=300, seed=0)
    assert run.data.tags["config_hash"] == identity.config_hash("mlp", params, 0, splits, **before)


def test_only_a_reduced_precision_enters_the_configuration_hash() -> None:
    from benchmark.plan import hashed_extra

    extra = {"early_stopping": True, "subset": 0}
    assert hashed_extra(extra, "float32") == extra
    assert hashed_extra(extra, "bfloat16") == {**extra, "precision": "bfloat16"}
    assert hashed_extra(extra, "float16") == {**extra, "precision": "float16"}
