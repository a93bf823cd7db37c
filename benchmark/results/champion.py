"""Choose the champion run on validation accuracy and keep the registry's champion alias on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark import tracking
from benchmark.results import learned, runs
from benchmark.results.significance import Loader
from benchmark.settings import DEFAULT_DATASET
from benchmark.settings.data import registered_model


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


def choose(candidates: pd.DataFrame, load: Loader | None = None) -> Champion | None:
    """The best run by best_val_accuracy; full-data runs before subset runs; newest on ties.

    `candidates` is a per-run table (results.runs). Runs without a validation accuracy
    (diverged, or logged by older code) never win, nor runs that did not learn
    (results/learned.py: judged from logged counts, else from `load`'s test outputs; unknown
    counts as learned); a run without a subset param counts as a subset run, since nothing
    says it saw all the data.
    """
    if candidates.empty:
        return None
    # Newest first, then stable sorts: validation accuracy, then full data, decide.
    newest_first = candidates.sort_values("start_time", ascending=False, kind="stable")
    ranked = runs.by_validation(newest_first)
    if ranked.empty:
        return None
    full_data = ranked["subset"].eq(runs.FULL_DATA).fillna(False).astype(bool)
    ranked = ranked.iloc[np.argsort(~full_data.to_numpy(), kind="stable")]
    best = next((row for _, row in ranked.iterrows() if _learned(row, load)), None)
    if best is None:
        return None
    return Champion(
        run_id=str(best["run_id"]),
        arch=_text(best["arch"]),
        seed=_text(best["seed"]),
        best_val_accuracy=float(best["best_val_accuracy"]),
        test_accuracy=float(best["test_accuracy"]),  # NaN when not logged
        subset=_text(best["subset"]),
    )


def _learned(run: pd.Series, load: Loader | None) -> bool:
    """Whether a candidate run learned; runs nothing is known of count as having learned."""
    judged = learned.judge(pd.DataFrame([run]), load)["learned"].iloc[0]
    return True if pd.isna(judged) else bool(judged)


def _text(value: object) -> str:
    """A tag value: the value as text, "?" when the run did not log it."""
    return "?" if pd.isna(value) else str(value)


def crown(experiment_id: str, dataset: str = DEFAULT_DATASET) -> str:
    """Give the dataset's champion alias to its best run (registering it if new); one line."""
    model = registered_model(dataset)
    candidates = runs.read_champion_candidates(experiment_id, dataset)
    champion = choose(candidates, tracking.load_test_probabilities)
    if champion is None:
        scored = runs.by_validation(candidates)
        if scored.empty:
            return "champion: none yet (no finished training run has a validation accuracy)"
        withdrawn = tracking.withdraw_champion(set(scored["run_id"]), model)
        return (
            f"champion: none ({learned.DID_NOT_LEARN}: no finished run's test accuracy is "
            "clearly above the majority class)" + (f"; {withdrawn}" if withdrawn else "")
        )
    version, outcome = tracking.register_champion(champion.run_id, champion.tags(), model)
    data = "" if champion.subset == str(runs.FULL_DATA) else f", {champion.subset}-image subset"
    note = {"registered": "", "unchanged": " (unchanged)", "moved": " (alias moved back to it)"}
    return (
        f"champion: {champion.arch} seed {champion.seed} (run {champion.run_id}, "
        f"val acc {champion.best_val_accuracy:.4f}, test acc {champion.test_accuracy:.4f}{data}) "
        f"registered as {model} version {version}{note[outcome]}"
    )
