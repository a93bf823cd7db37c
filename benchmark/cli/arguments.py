"""The command line's parser: its commands, their options and help, and value checks."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.settings import DEFAULT_EXPERIMENT, DEFAULT_STORAGE, DEFAULT_TRACKING_URI

EXIT_USER_ERROR = 2  # a bad command line; cli exits with it for every other user error too
DEFAULT_ENSEMBLE_K = 5  # members of the --ensemble row


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _add_tracking_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="MLflow experiment name")
    _add_tracking_uri_option(parser)


def _add_tracking_uri_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
        f"{DEFAULT_TRACKING_URI} in the working directory)",
    )


def _add_study_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"Optuna storage, any SQLAlchemy URL (default {DEFAULT_STORAGE} here; "
        "postgresql://user:password@host/db to share a study between machines)",
    )
    parser.add_argument(
        "--study-name", help="Optuna study (default mnist-<arch>, one per architecture)"
    )


def _add_ensemble_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="add a row averaging the softmax of the top-K runs by validation accuracy",
    )
    parser.add_argument(
        "--ensemble-k",
        type=_positive_int,
        metavar="K",
        help=f"ensemble size (default {DEFAULT_ENSEMBLE_K}; implies --ensemble)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `python -m benchmark` parser: list, run, tune, leaderboard, report and predict."""
    parser = _Parser(
        prog="python -m benchmark",
        description="Benchmark CNN architectures on MNIST, tracked in MLflow.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="list the registered architectures")

    run = commands.add_parser("run", help="train architectures and track them in MLflow")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every registered architecture")
    which.add_argument("--arch", nargs="+", metavar="NAME", help="these architectures")
    run.add_argument(
        "--epochs",
        type=_positive_int,
        help="train exactly this many epochs (turns early stopping off)",
    )
    run.add_argument("--batch-size", type=_positive_int)
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed", type=_seed, default=0, help="one weights and shuffling seed (default 0)"
    )
    seeds.add_argument(
        "--seeds",
        type=_positive_int,
        metavar="K",
        help="train every architecture with seeds 0..K-1, each its own run",
    )
    run.add_argument(
        "--subset", type=_positive_int, help="train on a stratified subset of N images (smoke runs)"
    )
    stopping = run.add_mutually_exclusive_group()
    stopping.add_argument(
        "--early-stopping",
        dest="early_stopping",
        action="store_true",
        default=None,
        help="stop when val_loss stops improving",
    )
    stopping.add_argument("--no-early-stopping", dest="early_stopping", action="store_false")
    run.add_argument(
        "--params",
        choices=("default", "best"),
        default="default",
        help="hyperparameters: each architecture's defaults, or the best trial of its "
        "Optuna study (see tune); tuned runs are marked in the leaderboard",
    )
    _add_study_options(run)
    run.add_argument("--force", action="store_true", help="re-run finished configurations")
    run.add_argument(
        "--output-dir",
        type=Path,
        default=Path("."),
        help="where leaderboard.csv and leaderboard.md go",
    )
    _add_ensemble_options(run)
    _add_tracking_options(run)

    tune = commands.add_parser("tune", help="search an architecture's hyperparameters with Optuna")
    tune.add_argument("--arch", required=True, metavar="NAME", help="the architecture to tune")
    tune.add_argument(
        "--trials",
        type=_positive_int,
        default=20,
        help="finished (complete or pruned) trials the study should reach; running again "
        "after an interruption finishes only the remainder (default 20)",
    )
    tune.add_argument(
        "--timeout", type=_positive_int, help="start no new trial after this many seconds"
    )
    _add_study_options(tune)
    tune.add_argument("--pruner", choices=("median", "hyperband", "none"), default="median")
    tune.add_argument("--sampler", choices=("tpe", "random"), default="tpe")
    tune.add_argument(
        "--workers", type=_positive_int, default=1, help="parallel worker processes here"
    )
    tune.add_argument(
        "--epochs", type=_positive_int, help="most epochs per trial (default: the architecture's)"
    )
    tune.add_argument("--subset", type=_positive_int, help="tune on a stratified subset")
    tune.add_argument("--seed", type=int, default=0, help="sampler and weights seed")
    tune.add_argument(
        "--heartbeat",
        type=_positive_int,
        default=10,
        help="seconds between a trial's heartbeats; a trial silent for 3 of them is failed "
        "and retried",
    )
    _add_tracking_options(tune)

    board = commands.add_parser("leaderboard", help="print the comparison from MLflow")
    board.add_argument("--format", choices=("table", "csv", "markdown"), default="table")
    _add_ensemble_options(board)
    _add_tracking_options(board)

    report = commands.add_parser("report", help="write a self-contained HTML report from MLflow")
    report.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="folder for index.html (default reports/<experiment>)",
    )
    _add_ensemble_options(report)
    _add_tracking_options(report)
    predict = commands.add_parser(
        "predict", help="classify image files of digits with the champion model"
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    _add_tracking_uri_option(predict)
    predict.add_argument(
        "--model",
        default=None,
        metavar="URI",
        help="MLflow model URI (default: models:/cnn-benchmark-mnist@champion)",
    )
    return parser
