"""The link that opens an experiment in MLflow's UI as the comparison: a shared view of its runs.

MLflow 3.17's UI takes the experiment's view (model training or GenAI) from the address
(`workflowType`), and the runs page's filter, columns, grouping and charts from a shared view
state: an experiment tag `mlflow.sharedViewState.<key>` named by `viewStateShareKey=<key>`.
Its table shows per-run data only, so each run also carries its row's interval as a tag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlencode

import mlflow
from mlflow.tracking import MlflowClient

from benchmark.redaction import redact_url

SHARED_VIEW_PREFIX = "mlflow.sharedViewState."
# One view per experiment, rewritten by every `run` and `leaderboard`: a server keeps at most 50
# shared views per experiment, and the newest board is the one worth opening.
VIEW_KEY = "cnn-benchmark"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a store in the working directory
SECTION = "cnn-benchmark-comparison"
# The leaderboard's columns that are per-run metrics, in its order.
COLUMNS = ("test_accuracy", "best_val_accuracy", "params", "train_seconds", "seconds_per_epoch")
# A run tag, not a metric: it holds its board row's interval ("0.9921 ± 0.0012"), which the next
# board may drop (one seed), and MLflow can delete a tag but not a metric.
INTERVAL_TAG = "test_accuracy_95ci"


# The rest of the runs page's state at its defaults: MLflow 3.17 fills in what a shared view
# leaves out, but 3.1's UI fails ("Something went wrong") on a view without them.
_UI_DEFAULTS = {
    "runsExpanded": {},
    "runsPinned": [],
    "runsHidden": [],
    "runsVisibilityMap": {},
    "viewMaximized": False,
    "runListHidden": False,
    "groupsExpanded": {},
    "autoRefreshEnabled": True,
    "globalLineChartConfig": {
        "xAxisKey": "step",
        "lineSmoothness": 0,
        "selectedXAxisMetricKey": "",
    },
}


def ui_address(tracking_uri: str) -> str:
    """The UI of the store: the tracking server itself (password masked), else `mlflow ui`'s."""
    if tracking_uri.startswith(("http://", "https://")):
        return redact_url(tracking_uri.rstrip("/"))
    return LOCAL_UI


def _metric(key: str) -> str:
    return f"metrics.`{key}`"


def _tag(key: str) -> str:
    return f"tags.`{key}`"


def _columns() -> list[str]:
    """The table's columns: the leaderboard's metrics, the interval right after test accuracy."""
    return [_metric(COLUMNS[0]), _tag(INTERVAL_TAG), *(_metric(key) for key in COLUMNS[1:])]


def _charts() -> list[dict[str, object]]:
    """Test accuracy per architecture (bars) and validation accuracy per epoch (lines)."""
    common = {"runsCountToCompare": 100, "metricSectionId": SECTION, "deleted": False}
    bars = {**common, "uuid": f"{SECTION}-test", "type": "BAR", "isGenerated": False}
    lines = {
        **common,
        "uuid": f"{SECTION}-val",
        "type": "LINE",
        "isGenerated": False,
        "metricKey": "val_accuracy",
        "selectedMetricKeys": ["val_accuracy"],
        "lineSmoothness": 0,
        "scaleType": "linear",
        "xAxisScaleType": "linear",
        "xAxisKey": "step",
        "selectedXAxisMetricKey": "",
        "range": {},
        "yAxisKey": "metric",
        "yAxisExpressions": [],
        "ignoreOutliers": False,
        "useGlobalXaxisKey": False,
        "useGlobalLineSmoothing": False,
    }
    return [{**bars, "metricKey": "test_accuracy"}, lines]


def comparison_view(run_ids: list[str], group_by: tuple[str, ...] = ("arch",)) -> dict:
    """The runs page's state: these runs, the leaderboard's columns, seeds grouped, two charts."""
    quoted = ", ".join(f"'{run_id}'" for run_id in run_ids)
    return {
        "searchFilter": f"attributes.run_id IN ({quoted})",
        "orderByKey": _metric("test_accuracy"),
        "orderByAsc": False,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "datasetsFilter": [],
        "modelVersionFilter": "All Runs",
        "selectedColumns": _columns(),
        # The table groups metric and tag columns apart (the tag last, out of sight) unless
        # it is given an order; the width fits "0.9921 ± 0.0012".
        "columnOrder": _columns(),
        "columnWidths": {_tag(INTERVAL_TAG): 150},
        "groupBy": {
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "tag", "groupByData": key} for key in group_by],
        },
        "runsHiddenMode": "SHOW_ALL",
        "compareRunCharts": _charts(),
        "compareRunSections": [
            {
                "uuid": SECTION,
                "name": "Comparison",
                "display": True,
                "isReordered": False,
                "deleted": False,
                "isGenerated": False,
            }
        ],
        "isAccordionReordered": True,
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        **_UI_DEFAULTS,
    }


def tag_intervals(experiment_id: str, run_ids: list[str], intervals: Mapping[str, str]) -> None:
    """Tag each run with its interval text, and remove the tag from runs that have none now."""
    client = MlflowClient()
    for run_id, text in intervals.items():
        client.set_tag(run_id, INTERVAL_TAG, text)
    blank = [run_id for run_id in run_ids if run_id not in intervals]
    if not blank:
        return
    quoted = ", ".join(f"'{run_id}'" for run_id in blank)
    found = client.search_runs(
        [experiment_id], f"attributes.run_id IN ({quoted})", max_results=len(blank)
    )
    for run in found:  # an interval of an earlier board, which this board no longer has
        if INTERVAL_TAG in run.data.tags:
            client.delete_tag(run.info.run_id, INTERVAL_TAG)


def comparison_link(
    experiment_id: str,
    run_ids: list[str],
    variants: bool = False,
    intervals: Mapping[str, str] | None = None,
) -> str:
    """Save the comparison view of these runs in the experiment and return the link to it.

    The runs are grouped by architecture (and variant, when the board has several); the runs in
    `intervals` (run id -> text) show it in the interval column, the others a blank.
    """
    group_by = ("arch", "variant") if variants else ("arch",)
    tag_intervals(experiment_id, run_ids, intervals or {})
    state = json.dumps(comparison_view(run_ids, group_by), sort_keys=True)
    MlflowClient().set_experiment_tag(experiment_id, SHARED_VIEW_PREFIX + VIEW_KEY, state)
    view = {"workflowType": "machine_learning", "compareRunsMode": "CHART"}
    query = urlencode({**view, "viewStateShareKey": VIEW_KEY})
    return f"{ui_address(mlflow.get_tracking_uri())}/#/experiments/{experiment_id}/runs?{query}"
