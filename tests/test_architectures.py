"""Every registered architecture builds, trains a step, and its search space fits DEFAULTS."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

import architectures
from architectures.registry import register
from benchmark.data.splits import to_model_input
from benchmark.training.runner import build_model

optuna.logging.set_verbosity(optuna.logging.WARNING)
ALL = architectures.names()


def test_registry_holds_the_required_architectures() -> None:
    required = {
        "basic",
        "deeper",
        "dropout",
        "batchnorm",
        "lenet5",
        "resnet",
        "separable",
        "mlp",
        "augmented",
    }
    assert required <= set(ALL)
    assert all(architectures.get(name).description for name in ALL)


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register("basic", "again")(architectures.get("basic").build)
    with pytest.raises(KeyError, match="choose from: .*basic"):
        architectures.get("no-such-net")


@pytest.mark.parametrize("name", ALL)
def test_builds_with_defaults_and_trains_one_step(name: str, tiny_splits) -> None:
    arch = architectures.get(name)
    model = build_model(arch, arch.defaults, tiny_splits)
    assert model.output_shape == (None, 10)
    x = to_model_input(tiny_splits.x_train[:16])
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, tiny_splits.y_train[:16])
    assert np.isfinite(np.ravel(loss)[0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_search_space_returns_the_keys_of_defaults(name: str, tiny_splits) -> None:
    arch = architectures.get(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(3):
        params = arch.search_space(study.ask())
        assert set(params) == set(arch.defaults)
        assert build_model(arch, params, tiny_splits).output_shape == (None, 10)


def test_basic_is_the_notebook_model() -> None:
    arch = architectures.get("basic")
    model = arch.build(arch.defaults, (28, 28, 1), 10)
    assert model.count_params() == 121_994
    weighted = [layer.count_params() for layer in model.layers if layer.count_params()]
    assert weighted == [320, 18_496, 36_928, 65_600, 650]
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes == [
        (28, 28, 32),
        (14, 14, 32),
        (12, 12, 64),
        (6, 6, 64),
        (4, 4, 64),
        (1024,),
        (64,),
        (10,),
    ]
    notebook = arch.params(arch.presets["notebook"])
    keys = ("epochs", "batch_size", "optimizer", "learning_rate", "lr_schedule")
    assert {key: notebook[key] for key in keys} == {
        "epochs": 20,
        "batch_size": 128,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "lr_schedule": "constant",
    }


def test_the_presets_known_without_keras_are_the_registered_ones() -> None:
    registered: dict[str, list[str]] = {}
    for name in ALL:
        for preset in architectures.get(name).presets:
            registered.setdefault(preset, []).append(name)
    assert registered == {preset: list(owners) for preset, owners in architectures.PRESETS.items()}


def test_a_preset_that_sets_an_unknown_hyperparameter_is_refused() -> None:
    import sys
    import types

    module = types.ModuleType("preset_probe")
    module.DEFAULTS = {key: 1 for key in ("epochs", "batch_size", "optimizer")} | {
        "learning_rate": 1e-3,
        "lr_schedule": "constant",
        "patience": 1,
    }
    module.PRESETS = {"odd": {"epochs": 2, "momentum": 0.9}}
    module.search_space = lambda trial: dict(module.DEFAULTS)

    def build(params, input_shape, num_classes):  # never called
        raise AssertionError

    build.__module__ = "preset_probe"
    sys.modules["preset_probe"] = module
    try:
        with pytest.raises(ValueError, match="preset 'odd' sets \\['momentum'\\]"):
            register("preset-probe", "probe")(build)
    finally:
        del sys.modules["preset_probe"]


@pytest.mark.parametrize("name", ALL)
def test_under_bfloat16_the_hidden_layers_compute_in_bfloat16_and_the_output_in_float32(
    name: str, tiny_splits
) -> None:
    """Builds and trains a step on any CPU: without native bfloat16 it is emulated, slowly."""
    import keras

    arch = architectures.get(name)
    model = build_model(arch, arch.defaults, tiny_splits, "bfloat16")
    assert keras.config.dtype_policy().name == "float32", "the global policy is restored"
    computes = {layer.dtype_policy.compute_dtype for layer in model.layers}
    assert "bfloat16" in computes
    last = model.layers[-1]
    assert last.dtype_policy.name == "float32" and last.activation.__name__ == "softmax"
    x = to_model_input(tiny_splits.x_train[:16])
    loss = model.train_on_batch(x, tiny_splits.y_train[:16])
    assert np.isfinite(np.ravel(loss)[0])
    assert all(weight.dtype == "float32" for weight in model.weights), "float32 master weights"
    probabilities = model.predict(x, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
