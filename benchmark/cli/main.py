"""Command line: parse, call the layer below, turn user errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmark import logs, runtime
from benchmark.cli.arguments import COMMANDS, EXIT_USER_ERROR, build_parser
from benchmark.errors import BenchmarkError

EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = build_parser().parse_args(argv)
    logs.setup(args.verbosity)
    runtime.stop_on_sigterm()  # `kill` cleans up like Ctrl-C
    try:
        return _dispatch(args)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are kept; run the same command again to train "
            "only what is missing",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    from rich.console import Console

    # Every argument is checked before TensorFlow or MLflow loads or any store is created.
    settings_class = COMMANDS[args.command][0]
    settings = settings_class.from_args(args) if settings_class else None
    if args.command == "predict":  # bad files are reported before TensorFlow's slow import
        return _predict(settings)
    if args.command == "report" and settings.output is not None:
        runtime.check_writable(settings.output, "report folder (--output)")
    runtime.import_tensorflow_quietly()
    # Wide lines in logs and pipes, where rich would otherwise wrap at 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else logs.WIDTH_WHEN_PIPED)
    if args.command == "list":
        from benchmark.cli.catalog import architecture_table

        console.print(architecture_table())
        return 0
    commands = {"leaderboard": _leaderboard, "tune": _tune, "report": _report, "run": _run}
    return commands[args.command](settings, console)


def _leaderboard(settings: Any, console: Any) -> int:
    from benchmark import tracking
    from benchmark.results import leaderboard

    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    experiment_id = tracking.connect(uri, settings.experiment, create=False)
    board = leaderboard.from_experiment(experiment_id, ensemble_k=settings.ensemble_k)
    if board.empty:
        raise BenchmarkError(f"no finished runs in experiment {settings.experiment!r} yet")
    rendered = leaderboard.render(board, settings.format)
    console.print(rendered) if settings.format == "table" else print(rendered, end="")
    return 0


def _tune(settings: Any, console: Any) -> int:
    from benchmark.tuning.search import tune

    tune(settings)
    return 0


def _report(settings: Any, console: Any) -> int:
    from benchmark import report, tracking

    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    experiment_id = tracking.connect(uri, settings.experiment, create=False)
    folder = settings.output or report.default_folder(settings.experiment)
    path, run_id = report.write_report(
        experiment_id, settings.experiment, folder, ensemble_k=settings.ensemble_k
    )
    console.print(f"report written to {path}; logged to MLflow run {run_id} (run_kind=report)")
    return 0


def _run(settings: Any, console: Any) -> int:
    from benchmark.results import leaderboard
    from benchmark.suite import run_suite

    board = run_suite(settings)
    console.print(leaderboard.render(board, "table"))
    for name, reason in board.attrs.get("skipped", {}).items():
        console.print(f"skipped {name}: {reason}")
    return 0


def _predict(settings: Any) -> int:
    """Print one line per readable image; report unreadable ones and exit 2 if there were any."""
    from benchmark.serving import predict

    paths, images, errors = predict.read_digits(settings.images)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if paths:
        runtime.import_tensorflow_quietly()
        from benchmark import tracking

        uri = tracking.resolve_tracking_uri(settings.tracking_uri)
        model = tracking.load_model(uri, settings.model or tracking.CHAMPION_URI)
        for prediction in predict.classify(model, paths, images):
            print(prediction.line())
    return EXIT_USER_ERROR if errors else 0
