"""The command line's parser, built from the settings dataclasses: one option per field."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from benchmark import settings as commands
from benchmark.errors import EXIT_USER_ERROR
from benchmark.settings.fields import Option

# Each command and the settings its options come from (list has none).
COMMANDS: dict[str, tuple[type | None, str]] = {
    "list": (None, "list the registered architectures"),
    "run": (commands.RunSettings, "train architectures and track them in MLflow"),
    "tune": (commands.TuneSettings, "search an architecture's hyperparameters with Optuna"),
    "leaderboard": (commands.BoardSettings, "print the comparison from MLflow"),
    "report": (commands.ReportSettings, "write a self-contained HTML report from MLflow"),
    "predict": (commands.PredictSettings, "classify image files of digits with the champion model"),
    "dashboard": (commands.DashboardSettings, "serve the Optuna studies in optuna-dashboard"),
    "worker": (
        commands.WorkerSettings,
        "train cells of run's grids in a shared study, from any machine",
    ),
    "status": (
        commands.StatusSettings,
        "show run's grids: cells waiting, running, done and failed",
    ),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see '{self.prog} --help')\n")


def _checked(rule: Any, parse: Any) -> Any:
    """An argparse type: a number (`parse`d) that passes `rule`, or argparse's one-line error."""

    def convert(text: str) -> Any:
        try:
            return rule(parse(text))
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = rule.__name__  # argparse names the type in some messages
    return convert


def _add_option(
    target: Any, item: dataclasses.Field, opt: Option, shared_dest: bool
) -> argparse.Action:
    """Add one option of a settings field; its dest is the field unless several options share it."""
    kwargs = {key: value for key, value in opt.kwargs.items() if key != "required"}
    if opt.rule is not None:
        kwargs["type"] = _checked(opt.rule, opt.parse)
    if opt.help is not None:
        kwargs["help"] = opt.help
    positional = not opt.flags[0].startswith("-")
    if not shared_dest and not positional:
        kwargs.setdefault("dest", item.name)
    if not shared_dest and "default" not in kwargs and item.default is not dataclasses.MISSING:
        kwargs["default"] = item.default
    if opt.kwargs.get("required") and opt.group is None:
        kwargs["required"] = True
    return target.add_argument(*opt.flags, **kwargs)


def add_settings_options(parser: argparse.ArgumentParser, settings: type) -> None:
    """Add the options of every field of a settings dataclass, in field order."""
    groups: dict[str, Any] = {}
    # A command's own options first, the shared keyword-only ones (DataSettings) after them.
    for item in sorted(dataclasses.fields(settings), key=lambda item: item.kw_only):
        options = item.metadata.get("options", ())
        shared_dest = item.metadata.get("read") is not None
        for opt in options:
            target: Any = parser
            if opt.group is not None:
                if opt.group not in groups:
                    required = bool(opt.kwargs.get("required"))
                    groups[opt.group] = parser.add_mutually_exclusive_group(required=required)
                target = groups[opt.group]
            _add_option(target, item, opt, shared_dest)


def _add_verbosity(parser: argparse.ArgumentParser, default: Any) -> None:
    """-q/-v; given before or after the command (the sub-command's copy keeps the first)."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=-1,
        default=default,
        help="print warnings, errors and results only, no progress",
    )
    loudness.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=1,
        default=default,
        help="also print debug lines and other libraries' warnings",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `python -m benchmark` parser: one sub-command per entry of COMMANDS."""
    parser = _Parser(
        prog="python -m benchmark",
        description="Benchmark CNN architectures on MNIST or your own images, tracked in MLflow.",
        epilog="-q/--quiet and -v/--verbose go before or after the command.",
    )
    _add_verbosity(parser, 0)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (settings, help_) in COMMANDS.items():
        command = commands.add_parser(name, help=help_)
        if settings is not None:
            add_settings_options(command, settings)
        _add_verbosity(command, argparse.SUPPRESS)  # keep a -q/-v given before the command
    return parser
