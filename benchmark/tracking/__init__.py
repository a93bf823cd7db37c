"""The only package that speaks to MLflow: stores, runs, artifacts; imports training, data.

Callers use `from benchmark import tracking` and `tracking.<name>`; the modules below split
the work by what it is about.
"""

from benchmark.tracking.artifacts import (
    PROBABILITIES_ARTIFACT,
    RUN_KIND_REPORT,
    log_comparison,
    log_report,
    log_result,
)
from benchmark.tracking.processes import close_orphaned_runs, git_commit
from benchmark.tracking.reading import (
    artifact_text,
    load_run_model,
    load_test_probabilities,
    metric_history,
    training_runs,
)
from benchmark.tracking.registry import (
    CHAMPION_ALIAS,
    CHAMPION_URI,
    REGISTERED_MODEL,
    champion_candidates,
    load_model,
    register_champion,
)
from benchmark.tracking.runs import (
    DEFAULT_VARIANT,
    RUN_KIND_COMPARISON,
    RUN_KIND_TRAINING,
    EpochLogger,
    comparison_run,
    config_hash,
    environment_params,
    find_finished_run,
    training_run,
)
from benchmark.tracking.store import (
    check_store,
    connect,
    resolve_tracking_uri,
    use_store,
)
from benchmark.tracking.trials import (
    RUN_KIND_TRIAL,
    RUN_KIND_TUNING,
    end_trial_run,
    log_study_summary,
    log_trial_params,
    trial_run,
    trial_runs,
    tuning_run,
)

__all__ = [
    "CHAMPION_ALIAS",
    "CHAMPION_URI",
    "DEFAULT_VARIANT",
    "PROBABILITIES_ARTIFACT",
    "REGISTERED_MODEL",
    "RUN_KIND_COMPARISON",
    "RUN_KIND_REPORT",
    "RUN_KIND_TRAINING",
    "RUN_KIND_TRIAL",
    "RUN_KIND_TUNING",
    "EpochLogger",
    "artifact_text",
    "champion_candidates",
    "check_store",
    "close_orphaned_runs",
    "comparison_run",
    "config_hash",
    "connect",
    "end_trial_run",
    "environment_params",
    "find_finished_run",
    "git_commit",
    "load_model",
    "load_run_model",
    "load_test_probabilities",
    "log_comparison",
    "log_report",
    "log_result",
    "log_study_summary",
    "log_trial_params",
    "metric_history",
    "register_champion",
    "resolve_tracking_uri",
    "training_run",
    "training_runs",
    "trial_run",
    "trial_runs",
    "tuning_run",
    "use_store",
]
