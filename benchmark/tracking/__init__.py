"""The only package that speaks to MLflow: stores, runs, artifacts.

Imports: settings, errors, runtime, redaction, data, training.

Callers use `from benchmark import tracking` and `tracking.<name>`; the modules below split
the work by what it is about.
"""

from benchmark.tracking.artifacts import (
    PROBABILITIES_ARTIFACT,
    check_artifacts_writable,
    log_comparison,
    log_png,
    log_report,
)
from benchmark.tracking.kept import check_room_for_results
from benchmark.tracking.model_registry import (
    CHAMPION_URI,
    REGISTERED_MODEL,
    champion_candidates,
    load_model,
    model_class_names,
    register_champion,
    withdraw_champion,
)
from benchmark.tracking.processes import close_orphaned_runs, kill_run
from benchmark.tracking.reading import (
    artifact_text,
    finished_training_runs,
    load_run_model,
    load_test_probabilities,
    metric_history,
    skipped_architectures,
)
from benchmark.tracking.runs import (
    DEFAULT_VARIANT,
    EpochLogger,
    comparison_run,
    find_finished_run,
    start_training_run,
)
from benchmark.tracking.spool import TrainingRun, log_result, sync_pending
from benchmark.tracking.store import (
    connect,
    resolve_tracking_uri,
    use_store,
)
from benchmark.tracking.trials import (
    LoggedStudy,
    end_trial_run,
    log_study_insight,
    log_study_summary,
    log_trial_params,
    logged_studies,
    trial_run,
    tuning_run,
)
from benchmark.tracking.views import LOCAL_UI, comparison_link

__all__ = [
    "CHAMPION_URI",
    "LOCAL_UI",
    "DEFAULT_VARIANT",
    "PROBABILITIES_ARTIFACT",
    "REGISTERED_MODEL",
    "EpochLogger",
    "LoggedStudy",
    "TrainingRun",
    "artifact_text",
    "check_artifacts_writable",
    "check_room_for_results",
    "champion_candidates",
    "close_orphaned_runs",
    "comparison_link",
    "comparison_run",
    "connect",
    "end_trial_run",
    "find_finished_run",
    "kill_run",
    "load_model",
    "load_run_model",
    "load_test_probabilities",
    "model_class_names",
    "log_comparison",
    "log_png",
    "log_report",
    "log_result",
    "log_study_insight",
    "logged_studies",
    "log_study_summary",
    "log_trial_params",
    "metric_history",
    "register_champion",
    "withdraw_champion",
    "resolve_tracking_uri",
    "finished_training_runs",
    "skipped_architectures",
    "start_training_run",
    "sync_pending",
    "trial_run",
    "tuning_run",
    "use_store",
]
