"""Command line: parse, call the layer below, turn user errors into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from benchmark.cli.arguments import DEFAULT_ENSEMBLE_K, EXIT_USER_ERROR, build_parser
from benchmark.errors import BenchmarkError

EXIT_INTERRUPTED = 130


def _ensemble_k(args: argparse.Namespace) -> int | None:
    """The ensemble size asked for, or None when no ensemble row is wanted."""
    if args.ensemble_k is not None:
        return args.ensemble_k
    return DEFAULT_ENSEMBLE_K if args.ensemble else None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C
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


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with native stderr muted: its CUDA probing prints errors on CPU hosts.

    Only the C++ start-up chatter is muted; a Python exception still propagates.
    """
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow

        tensorflow.config.list_physical_devices()  # the CUDA probe runs here, not at import
        # Every model trained or timed traces fresh predict and train functions; TensorFlow
        # counts them together per process and warns about "retracing" that is expected here.
        tensorflow.get_logger().addFilter(
            lambda record: "triggered tf.function retracing" not in record.getMessage()
        )
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _dispatch(args: argparse.Namespace) -> int:
    from rich.console import Console

    if args.command == "predict":  # bad files are reported before TensorFlow's slow import
        return _predict(args)
    _import_tensorflow_quietly()
    # Wide lines in logs and pipes, where rich would otherwise wrap at 80 columns.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    if args.command == "list":
        from benchmark.cli.catalog import architecture_table

        console.print(architecture_table())
        return 0
    if args.command == "leaderboard":
        from benchmark import tracking
        from benchmark.results import leaderboard

        uri = tracking.resolve_tracking_uri(args.tracking_uri)
        experiment_id = tracking.connect(uri, args.experiment, create=False)
        board = leaderboard.from_experiment(experiment_id, ensemble_k=_ensemble_k(args))
        if board.empty:
            raise BenchmarkError(f"no finished runs in experiment {args.experiment!r} yet")
        rendered = leaderboard.render(board, args.format)
        console.print(rendered) if args.format == "table" else print(rendered, end="")
        return 0
    if args.command == "tune":
        return _tune(args, console)
    if args.command == "report":
        return _report(args, console)
    return _run(args, console)


def _tune(args: argparse.Namespace, console: object) -> int:
    from benchmark.tuning.search import TuneSettings, tune

    settings = TuneSettings(
        arch=args.arch,
        trials=args.trials,
        timeout=args.timeout,
        storage=args.storage,
        study_name=args.study_name,
        pruner=args.pruner,
        sampler=args.sampler,
        workers=args.workers,
        epochs=args.epochs,
        subset=args.subset,
        seed=args.seed,
        experiment=args.experiment,
        tracking_uri=args.tracking_uri,
        heartbeat_seconds=args.heartbeat,
    )
    tune(settings, say=lambda line: console.print(line, markup=False))
    return 0


def _report(args: argparse.Namespace, console: object) -> int:
    from benchmark import report, tracking

    uri = tracking.resolve_tracking_uri(args.tracking_uri)
    experiment_id = tracking.connect(uri, args.experiment, create=False)
    folder = args.output or report.default_folder(args.experiment)
    path, run_id = report.write_report(
        experiment_id,
        args.experiment,
        folder,
        ensemble_k=_ensemble_k(args),
    )
    console.print(f"report written to {path}; logged to MLflow run {run_id} (run_kind=report)")
    return 0


def _run(args: argparse.Namespace, console: object) -> int:
    import architectures
    from benchmark.results import leaderboard
    from benchmark.suite import RunSettings, run_suite

    settings = RunSettings(
        archs=architectures.names() if args.all else args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seeds=list(range(args.seeds)) if args.seeds else [args.seed],
        subset=args.subset,
        early_stopping=args.early_stopping,
        experiment=args.experiment,
        tracking_uri=args.tracking_uri,
        force=args.force,
        output_dir=args.output_dir,
        params=args.params,
        storage=args.storage,
        study_name=args.study_name,
        ensemble_k=_ensemble_k(args),
    )
    board = run_suite(settings, say=lambda line: console.print(line, markup=False))
    console.print(leaderboard.render(board, "table"))
    return 0


def _predict(args: argparse.Namespace) -> int:
    """Print one line per readable image; report unreadable ones and exit 2 if there were any."""
    from benchmark.serving import predict

    paths, images, errors = predict.read_digits(args.images)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if paths:
        _import_tensorflow_quietly()
        from benchmark import tracking

        uri = tracking.resolve_tracking_uri(args.tracking_uri)
        model = tracking.load_model(uri, args.model or tracking.CHAMPION_URI)
        for prediction in predict.classify(model, paths, images):
            print(prediction.line())
    return EXIT_USER_ERROR if errors else 0
