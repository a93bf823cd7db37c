"""Every default and each command's settings, with their options and checks.

Imports: architectures, errors.

The defaults live in `defaults`; the command line's parser is built from the fields of the
dataclasses in `commands`, so a flag, its help and its check are declared once.
"""

from benchmark.settings.commands import (
    BoardSettings,
    DashboardSettings,
    PredictSettings,
    ReportSettings,
    RunSettings,
    StatusSettings,
    TuneSettings,
    WorkerSettings,
    default_study_name,
)
from benchmark.settings.defaults import (
    AUTO_JOBS_IMAGES,
    CHAMPION_ALIAS,
    CHAMPION_URI,
    COLORS,
    DATASETS,
    DEFAULT_DATASET,
    DEFAULT_EXPERIMENT,
    DEFAULT_STORAGE,
    DEFAULT_TRACKING_URI,
    ENSEMBLE_K,
    HEARTBEAT_SECONDS,
    MAX_FAILURES,
    OBJECTIVES,
    PRECISIONS,
    PRUNERS,
    RANKINGS,
    REGISTERED_MODEL,
    SAMPLERS,
    SPLIT_SEED,
    SUBSET_MAX,
    SUBSET_MIN,
    TARGET_ACCURACY,
    TRIALS,
    VALIDATION_FRACTION,
)
from benchmark.settings.fields import Option, Settings

__all__ = [
    "AUTO_JOBS_IMAGES",
    "CHAMPION_ALIAS",
    "CHAMPION_URI",
    "COLORS",
    "DATASETS",
    "DEFAULT_DATASET",
    "DEFAULT_EXPERIMENT",
    "DEFAULT_STORAGE",
    "DEFAULT_TRACKING_URI",
    "ENSEMBLE_K",
    "HEARTBEAT_SECONDS",
    "MAX_FAILURES",
    "OBJECTIVES",
    "PRECISIONS",
    "PRUNERS",
    "RANKINGS",
    "REGISTERED_MODEL",
    "SAMPLERS",
    "SPLIT_SEED",
    "SUBSET_MAX",
    "SUBSET_MIN",
    "TARGET_ACCURACY",
    "TRIALS",
    "VALIDATION_FRACTION",
    "BoardSettings",
    "DashboardSettings",
    "Option",
    "PredictSettings",
    "ReportSettings",
    "RunSettings",
    "Settings",
    "StatusSettings",
    "TuneSettings",
    "WorkerSettings",
    "default_study_name",
]
