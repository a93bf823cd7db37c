"""Budgets in images seen: the same on MNIST as before, spread over the steps small data needs."""

from __future__ import annotations

import pytest

import architectures
from benchmark import plan
from benchmark.plan import hashed_extra
from benchmark.settings import SPLIT_SEED, RunSettings
from benchmark.suite import load_run_splits
from benchmark.training import budget, identity

# Each architecture's default run (seed 0, float32) on full MNIST, hashed before budgets were
# stated in images seen: its finished runs must still be found and skipped.
MNIST_HASHES = {
    "augmented": "89c3f5f965490d36",
    "basic": "ec5ff0f8a29594c3",
    "batchnorm": "9a34f4554014e022",
    "deeper": "3f3b720e23284c5e",
    "dropout": "5d282e8ab4cb4b48",
    "jitter": "8737b602b81261bb",
    "lenet5": "151c9b1f07106c5c",  # batch 128 -> 64 (2026-12-05): was 206c39716f132be3
    "mlp": "4d0f4f8218efb990",
    "resnet": "36bd8933f55c116d",
    "separable": "9740511f74a3b383",
    "speedrun": "df8c4c1d1660b9cd",
}
# The same on digits with MNIST's epoch counts (44-77 optimizer steps): these runs were
# under-trained, so no run of the scaled budget may be mistaken for one of them.
DIGITS_HASHES_OF_MNIST_EPOCHS = {
    "augmented": "0834de5f7af086ac",
    "basic": "f6a86c4dbb90a0c2",
    "batchnorm": "73bc26fe0df1d1b0",
    "deeper": "a451e318a3a1093a",
    "dropout": "c020b0dbb2afe924",
    "jitter": "c465d8b4b23f3870",
    "lenet5": "272576b427675093",
    "mlp": "02eea9bea366faa4",
    "resnet": "6bb843e08a0e1ef0",
    "separable": "a4d2d3eac3b228cc",
    "speedrun": "19266796fd6bde72",
}


def default_hashes(settings: RunSettings) -> dict[str, str]:
    """Each architecture's configuration hash as `run` computes it for seed 0 in float32."""
    splits = load_run_splits(settings)
    extra = {
        "early_stopping": settings.uses_early_stopping,
        "validation_fraction": settings.validation_fraction,
        "subset": settings.subset or 0,
        "split_seed": SPLIT_SEED,
        "params_source": settings.params,
    }
    hashes = {}
    for name in settings.archs:
        params = plan.params_for(name, settings, None, len(splits.x_train))
        hashes[name] = identity.config_hash(
            name, params, 0, splits, **hashed_extra(extra, "float32")
        )
    return hashes


def test_mnist_defaults_keep_their_epochs_and_configuration_hashes() -> None:
    settings = RunSettings(archs=architectures.names())
    assert set(MNIST_HASHES) == set(architectures.names()), "pin a new architecture's hash"
    assert default_hashes(settings) == MNIST_HASHES
    for name in settings.archs:
        defaults = architectures.get(name).defaults
        params = plan.params_for(name, settings, None, budget.REFERENCE_TRAIN_IMAGES)
        assert params == defaults, f"{name}: on MNIST the budget is its DEFAULTS unchanged"


def test_digits_defaults_see_as_many_images_as_on_mnist() -> None:
    settings = RunSettings(archs=architectures.names(), dataset="digits")
    hashes = default_hashes(settings)
    for name in settings.archs:
        assert hashes[name] != DIGITS_HASHES_OF_MNIST_EPOCHS[name], f"{name}: stale runs reused"
        defaults = architectures.get(name).defaults
        params = plan.params_for(name, settings, None, 1_293)
        images = defaults["epochs"] * 54_000
        assert params["epochs"] == min(-(-images // 1_293), budget.MAX_SCALED_EPOCHS)
        assert params["epochs"] * 1_293 >= min(images, budget.MAX_SCALED_EPOCHS * 1_293)
        assert defaults["patience"] < params["patience"], "patience counts epochs too"
    assert plan.budget_params("basic", settings, None) == {"budget_images": 3 * 54_000}


@pytest.mark.parametrize(
    ("settings", "epochs"),
    [
        (RunSettings(archs=["basic"], dataset="digits", epochs=2), 2),  # passes, as documented
        (RunSettings(archs=["basic"], dataset="digits", params="notebook"), 20),  # a protocol
    ],
)
def test_explicit_epochs_and_protocols_are_passes_over_the_data(settings, epochs) -> None:
    source = plan.params_sources(settings).get("basic")
    params = plan.params_for("basic", settings, source, 1_293)
    assert params["epochs"] == epochs
    assert params["patience"] == architectures.get("basic").defaults["patience"]
    assert plan.budget_params("basic", settings, source) == {}


def test_scaled_epochs_round_up_cap_and_shrink_on_larger_data() -> None:
    assert budget.scaled_epochs(3, 54_000) == 3
    assert budget.scaled_epochs(3, 1_293) == 126  # 162,000 images, 11 steps of 128 a pass
    assert budget.scaled_epochs(8, 1_293) == budget.MAX_SCALED_EPOCHS
    assert budget.scaled_epochs(300, 1_000) == 300, "the cap never cuts a budget's own epochs"
    assert budget.scaled_epochs(3, 200_000) == 1 and budget.scaled_epochs(10, 100_000) == 6
    scaled = budget.scaled({"epochs": 2, "patience": 8}, 30)
    assert scaled["epochs"] == scaled["patience"] == budget.MAX_SCALED_EPOCHS
    with pytest.raises(ValueError, match="train_size must be positive"):
        budget.scaled_epochs(3, 0)


class _Trained(Exception):
    """Raised by the stand-in for fit: the params a tune trial would have trained."""


@pytest.mark.parametrize(("epochs", "expected"), [(None, 126), (2, 2)])
def test_tune_trials_train_the_budget_run_does_unless_epochs_are_given(
    monkeypatch, epochs, expected
) -> None:
    """A trial on digits sees MNIST's images seen, as `run` does; `--epochs N` stays N passes."""
    import optuna

    from benchmark.settings import TuneSettings
    from benchmark.tuning import studies, trial

    settings = TuneSettings("basic", dataset="digits", epochs=epochs)
    splits = load_run_splits(RunSettings(archs=["basic"], dataset="digits"))
    assert len(splits.x_train) == 1_293 and architectures.get("basic").defaults["epochs"] == 3

    def fit(arch, params, *args, **kwargs):
        raise _Trained(params)

    monkeypatch.setattr(trial, "fit", fit)
    monkeypatch.setattr(trial.tracking, "log_trial_params", lambda params: None)
    objective = trial.Objective(settings, splits, "0", "parent")
    with pytest.raises(_Trained) as trained:
        objective._train(optuna.create_study().ask(), "basic trial 0", None)
    assert trained.value.args[0]["epochs"] == expected
    study = studies.open_study(
        "digits-basic", optuna.storages.InMemoryStorage(), objective.arch, splits, epochs
    )
    assert study.user_attrs["max_epochs"] == expected, "the pruner's horizon is the same"
