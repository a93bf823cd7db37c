"""Command line: parse, call the layer below, turn user errors into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmark import logs, redaction, runtime
from benchmark.cli.arguments import COMMANDS, build_parser
from benchmark.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, BenchmarkError


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = build_parser().parse_args(argv)
    logs.setup(args.verbosity)
    runtime.stop_on_sigterm()  # `kill` cleans up like Ctrl-C
    try:
        return _dispatch(args)
    except BenchmarkError as error:
        # Whatever layer wrote the message, a password given in any argument stays masked.
        words = sys.argv[1:] if argv is None else argv
        print(f"error: {redaction.redact_text(str(error), *words)}", file=sys.stderr)
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
    if args.command == "status":  # reads the grids only: no TensorFlow
        return _status(settings)
    if args.command == "dashboard":  # reads studies only: no TensorFlow
        from benchmark.tuning.dashboard import serve

        serve(settings.storage, settings.host, settings.port)
        return 0
    if args.command == "report" and settings.output is not None:
        runtime.check_writable(settings.output, "report folder (--output)")
    from benchmark.training import hardware, precision  # neither loads TensorFlow

    if getattr(settings, "precision", None) in precision.REDUCED:
        if hardware.gpu_driver_present():  # the GPU check asks TensorFlow: load it quietly
            runtime.import_tensorflow_quietly()
        precision.resolve(settings.precision)  # refused here, on the CPU flags, if no GPU can exist
    runtime.import_tensorflow_quietly()
    # Wide lines in logs and pipes, where rich would otherwise wrap at 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else logs.WIDTH_WHEN_PIPED)
    if args.command == "list":
        from benchmark.cli.catalog import architecture_table

        console.print(architecture_table())
        return 0
    commands = {
        "leaderboard": _leaderboard,
        "tune": _tune,
        "report": _report,
        "run": _run,
        "worker": _worker,
    }
    return commands[args.command](settings, console)


def _leaderboard(settings: Any, console: Any) -> int:
    from benchmark import tracking
    from benchmark.results import leaderboard

    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    experiment_id = tracking.connect(uri, settings.experiment, create=False)
    board = leaderboard.from_experiment(
        experiment_id, ensemble_k=settings.ensemble_k, rank_by=settings.rank_by
    )
    if board.empty:
        raise BenchmarkError(f"no finished runs in experiment {settings.experiment!r} yet")
    _warn_of_machines(board)
    rendered = leaderboard.render(board, settings.format, settings.rank_by)
    if settings.format != "table":
        print(rendered, end="")
        return 0
    console.print(rendered)
    for name, reason in tracking.skipped_architectures(experiment_id).items():
        console.print(f"skipped {name}: {reason}")
    _print_link(board)
    return 0


def _tune(settings: Any, console: Any) -> int:
    from benchmark.tuning import insight
    from benchmark.tuning.search import tune

    summary = tune(settings)
    found = summary["importances"]
    if isinstance(found, insight.Importances):
        console.print(insight.importance_heading(settings.name, found))
        console.print(insight.importance_table(found))
    else:
        console.print(found)  # why there are none, in one line
    if summary["pareto"]:
        table = insight.pareto_table(
            settings.name,
            summary["pareto"],
            settings.arch,
            settings.storage,
            summary["counts"]["complete"],
        )
        console.print(table)
    return 0


def _report(settings: Any, console: Any) -> int:
    from benchmark import report, tracking
    from benchmark.data.sources import Request
    from benchmark.settings.data import data_request

    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    experiment_id = tracking.connect(uri, settings.experiment, create=False)
    folder = settings.output or report.default_folder(settings.experiment)
    request = Request(**data_request(settings))
    path, run_id = report.write_report(
        experiment_id, settings.experiment, folder, settings.ensemble_k, request
    )
    console.print(f"report written to {path}; logged to MLflow run {run_id} (run_kind=report)")
    return 0


def _run(settings: Any, console: Any) -> int:
    from benchmark.results import leaderboard
    from benchmark.suite import run_suite

    board = run_suite(settings)
    _warn_of_machines(board)
    console.print(leaderboard.render(board, "table"))
    for name, reason in board.attrs.get("skipped", {}).items():
        console.print(f"skipped {name}: {reason}", markup=False)
    failed = board.attrs.get("failed", {})
    for label, reason in failed.items():
        console.print(f"failed {label}: {reason}", markup=False)
    _print_link(board)
    if failed:
        print(
            f"error: {len(failed)} cell{'s' if len(failed) > 1 else ''} failed (listed above); "
            "run the same command again to retry them",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    return 0


def _worker(settings: Any, console: Any) -> int:
    from benchmark import tracking
    from benchmark.grid.queue import Grid, Worker
    from benchmark.grid.worker import Loop

    uri = settings.tracking_uri  # None: each grid's store, as its `run` recorded it
    if uri is not None:
        tracking.use_store(uri)
    runtime.stop_on_sigterm(repeats=False)  # a scheduler's SIGTERM may come twice (uv run)
    opened: dict = {}  # the grids opened so far, by name: listed again at each poll
    grids = Grid.all_in(settings.storage, opened)
    if not grids and not settings.wait:
        raise BenchmarkError(
            f"no grid in {redaction.redact_url(settings.storage)}: start one with "
            "'python -m benchmark run --storage URL ...' (or pass --wait to wait for one)"
        )
    loop = Loop(Worker.here(settings.name, settings.host), uri)
    loop.run(lambda: Grid.all_in(settings.storage, opened), wait=settings.wait)
    console.print(f"no cell left to take; this worker trained {loop.trained}")
    return 0


def _status(settings: Any) -> int:
    from rich.console import Console

    from benchmark.grid.queue import Grid
    from benchmark.grid.status import summary

    grids = Grid.all_in(settings.storage)
    if not grids:
        raise BenchmarkError(f"no grid in {redaction.redact_url(settings.storage)} yet")
    console = Console(highlight=False, width=None if sys.stdout.isatty() else logs.WIDTH_WHEN_PIPED)
    for grid in grids:
        line, table = summary(grid)
        console.print(line)
        if table is not None:
            console.print(table)
    return 0


def _print_link(board: Any) -> None:
    """The board's MLflow link on a line of its own, never wrapped, so it stays clickable."""
    from benchmark.results import leaderboard

    line = leaderboard.link_line(board)
    if line:
        print(line, flush=True)


def _warn_of_machines(board: Any) -> None:
    """One line on stderr when the board's timings come from more than one machine."""
    from benchmark.results import leaderboard

    _, warning = leaderboard.machine_note(board)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


def _predict(settings: Any) -> int:
    """Print one line per readable image; report unreadable ones and exit 2 if there were any.

    MNIST's champion (the default) gets MNIST-style centred digits; any other model gets the
    images resized to its input, grey or colour, as its folder dataset's images were.
    """
    from benchmark.serving import predict

    mnist_style = settings.dataset == "mnist"
    reader = predict.read_digits if mnist_style else predict.read_pictures
    paths, images, errors = reader(settings.images)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if paths:
        runtime.import_tensorflow_quietly()
        from benchmark import tracking

        uri = tracking.resolve_tracking_uri(settings.tracking_uri)
        model = tracking.load_model(uri, settings.model_uri)
        shape = tuple(model.input_shape[1:])
        if mnist_style and shape != (28, 28, 1):  # a colour or other-sized model: resize
            mnist_style = False
            paths, images, _ = predict.read_pictures(paths)
        if not mnist_style:
            images = predict.fit_pictures(images, shape)
        names = tracking.model_class_names(settings.model_uri)
        for prediction in predict.classify(model, paths, images, names, mnist_style):
            print(prediction.line())
    return EXIT_USER_ERROR if errors else 0
