"""Choose the champion run on validation accuracy and keep the registry's champion alias on it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from benchmark import tracking

FULL_DATA = "0"  # params.subset of a run trained on the whole training split


@dataclass(frozen=True)
class Champion:
    """The run whose model serves as the champion, with what the registry tags it with."""

    run_id: str
    arch: str
    seed: str
    best_val_accuracy: float
    test_accuracy: float  # reported, never used to choose
    subset: str  # "0" for the full training split, else the number of training images

    def tags(self) -> dict[str, str]:
        """Model-version tags: where the model came from and how good it is."""
        return {
            "arch": self.arch,
            "seed": self.seed,
            "best_val_accuracy": f"{self.best_val_accuracy:.4f}",
            "test_accuracy": f"{self.test_accuracy:.4f}",
            "subset": self.subset,
        }


def choose(runs: pd.DataFrame) -> Champion | None:
    """The best run by best_val_accuracy; full-data runs before subset runs; newest on ties.

    Runs without a validation accuracy (diverged, or logged by older code) never win.
    """
    if runs.empty or "metrics.best_val_accuracy" not in runs:
        return None
    runs = runs[runs["metrics.best_val_accuracy"].notna()]
    if runs.empty:
        return None
    # A run without params.subset counts as a subset run: nothing says it saw all the data.
    subset = runs.get("params.subset", pd.Series(index=runs.index, dtype=object)).fillna("?")
    ranked = runs.assign(_full_data=subset == FULL_DATA, _subset=subset).sort_values(
        ["_full_data", "metrics.best_val_accuracy", "start_time"], ascending=False
    )
    best = ranked.iloc[0]
    test_accuracy = best.get("metrics.test_accuracy", math.nan)
    return Champion(
        run_id=str(best["run_id"]),
        arch=str(best.get("tags.arch", "?")),
        seed=str(best.get("params.seed", "?")),
        best_val_accuracy=float(best["metrics.best_val_accuracy"]),
        test_accuracy=float(test_accuracy) if pd.notna(test_accuracy) else math.nan,
        subset=str(best["_subset"]),
    )


def crown(experiment_id: str) -> str:
    """Give the champion alias to the best run (registering it if new); return one line to print."""
    champion = choose(tracking.champion_candidates(experiment_id))
    if champion is None:
        return "champion: none yet (no finished training run has a validation accuracy)"
    version, outcome = tracking.register_champion(champion.run_id, champion.tags())
    data = "" if champion.subset == FULL_DATA else f", {champion.subset}-image subset"
    note = {"registered": "", "unchanged": " (unchanged)", "moved": " (alias moved back to it)"}
    return (
        f"champion: {champion.arch} seed {champion.seed} (run {champion.run_id}, "
        f"val acc {champion.best_val_accuracy:.4f}, test acc {champion.test_accuracy:.4f}{data}) "
        f"registered as {tracking.REGISTERED_MODEL} version {version}{note[outcome]}"
    )
