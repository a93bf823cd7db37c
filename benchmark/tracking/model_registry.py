"""Model registry: the champion model, choosing its candidates, and loading a model back."""

from __future__ import annotations

import contextlib
import io
import json

import keras
import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from benchmark.errors import BenchmarkError, first_line
from benchmark.settings import CHAMPION_ALIAS, CHAMPION_URI, REGISTERED_MODEL
from benchmark.tracking.reading import finished_training_runs
from benchmark.tracking.store import check_store, use_store


def _champion_version(client: MlflowClient, model: str = REGISTERED_MODEL) -> ModelVersion | None:
    """The model version the champion alias points at, or None when there is none yet."""
    try:
        return client.get_model_version_by_alias(model, CHAMPION_ALIAS)
    except MlflowException as error:  # no registered model, or no alias on it
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def champion_candidates(experiment_id: str, model: str = REGISTERED_MODEL) -> pd.DataFrame:
    """Finished training runs of the experiment plus the run behind the current champion.

    The incumbent takes part wherever it was trained, so a run in another experiment (a smoke
    test, say) has to beat it to take the alias.
    """
    runs = finished_training_runs(experiment_id)
    try:
        current = _champion_version(MlflowClient(), model)
    except MlflowException as error:
        raise BenchmarkError(
            f"reading the champion from {mlflow.get_tracking_uri()} failed: {first_line(error)}"
        ) from None
    if current is None or not current.run_id or current.run_id in set(runs.get("run_id", [])):
        return runs
    try:
        incumbent_experiment = MlflowClient().get_run(current.run_id).info.experiment_id
        incumbent = finished_training_runs(incumbent_experiment, [current.run_id])
    except MlflowException:  # its run was deleted for good: the alias is up for grabs
        return runs
    if incumbent.empty:  # deleted (soft) or not a finished training run
        return runs
    return incumbent if runs.empty else pd.concat([runs, incumbent], ignore_index=True)


def _logged_model_uri(client: MlflowClient, run_id: str) -> str:
    """The run's logged model as models:/<model_id>; MLflow 3 keeps it outside run artifacts."""
    outputs = client.get_run(run_id).outputs
    logged = sorted(outputs.model_outputs, key=lambda output: output.step) if outputs else []
    return f"models:/{logged[-1].model_id}" if logged else f"runs:/{run_id}/model"


def register_champion(
    run_id: str, tags: dict[str, str], model: str = REGISTERED_MODEL
) -> tuple[int, str]:
    """Point the champion alias at the run's model; return (version, what happened).

    What happened is "registered" (a new version), "unchanged" (the alias already pointed at
    this run) or "moved" (an older version of this run got the alias back). A version is only
    created when no version of the registered model holds this run yet.
    """
    client = MlflowClient()
    try:
        current = _champion_version(client, model)
        if current is not None and current.run_id == run_id:
            return int(current.version), "unchanged"
        existing = client.search_model_versions(f"name = '{model}' and run_id = '{run_id}'")
        if existing:
            version, outcome = str(existing[0].version), "moved"
        else:
            # register_model prints "Successfully registered ..." itself; the caller says it once.
            with contextlib.redirect_stderr(io.StringIO()):
                created = mlflow.register_model(_logged_model_uri(client, run_id), model, tags=tags)
            version = _first_version(client, run_id, str(created.version), model)
            outcome = "registered"
        client.set_registered_model_alias(model, CHAMPION_ALIAS, version)
    except MlflowException as error:
        raise BenchmarkError(
            f"registering the champion in {mlflow.get_tracking_uri()} failed: {first_line(error)}"
        ) from None
    return int(version), outcome


def withdraw_champion(run_ids: set[str], model: str = REGISTERED_MODEL) -> str:
    """Take the champion alias off the model version of one of `run_ids`; say so, or "".

    For runs that did not learn: `predict` must not keep serving one. Other versions stay.
    """
    client = MlflowClient()
    try:
        current = _champion_version(client, model)
        if current is None or current.run_id not in run_ids:
            return ""
        client.delete_registered_model_alias(model, CHAMPION_ALIAS)
    except MlflowException as error:
        raise BenchmarkError(
            f"updating the champion in {mlflow.get_tracking_uri()} failed: {first_line(error)}"
        ) from None
    return f"alias {CHAMPION_ALIAS} taken off {model} version {current.version}"


def _first_version(
    client: MlflowClient, run_id: str, created: str, model: str = REGISTERED_MODEL
) -> str:
    """The run's oldest version; a newer one made at the same moment by another process goes.

    Two processes crowning the same run at once both find no version of it and both register
    one; each then keeps the oldest, so the run ends with one version whoever finishes last.
    """
    versions = client.search_model_versions(f"name = '{model}' and run_id = '{run_id}'")
    oldest = str(min([int(created), *(int(found.version) for found in versions)]))
    if oldest != created:
        client.delete_model_version(model, created)
    return oldest


def load_model(tracking_uri: str, model_uri: str = CHAMPION_URI) -> keras.Model:
    """Load a logged or registered Keras model, by default the registered champion."""
    check_store(tracking_uri, create=False)
    use_store(tracking_uri)
    try:
        return mlflow.keras.load_model(model_uri)
    except MlflowException as error:
        champion = model_uri.endswith(f"@{CHAMPION_ALIAS}")
        if champion and error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise BenchmarkError(
                f"no champion model in {tracking_uri} yet; run 'python -m benchmark run --all' "
                f"first (it registers the best run as {model_uri}) or pass --tracking-uri"
            ) from None
        raise BenchmarkError(f"could not load model {model_uri}: {first_line(error)}") from None
    except Exception as error:  # a broken store or artifact is the user's setup to fix
        raise BenchmarkError(f"could not load model {model_uri}: {first_line(error)}") from None


def model_class_names(model_uri: str) -> tuple[str, ...]:
    """The class names the model's training run recorded; () when unknown (older runs)."""
    client = MlflowClient()
    try:
        if model_uri.startswith("runs:/"):
            run_id = model_uri.removeprefix("runs:/").split("/")[0]
        elif model_uri.startswith("models:/") and "@" in model_uri:
            name, alias = model_uri.removeprefix("models:/").split("@", 1)
            run_id = client.get_model_version_by_alias(name, alias).run_id
        elif model_uri.startswith("models:/") and model_uri.count("/") == 2:
            name, version = model_uri.removeprefix("models:/").split("/")
            run_id = client.get_model_version(name, version).run_id
        else:
            return ()
        names = json.loads(client.get_run(run_id).data.tags.get("class_names", "[]"))
    except (MlflowException, ValueError, TypeError):
        return ()
    return tuple(str(name) for name in names) if isinstance(names, list) else ()
