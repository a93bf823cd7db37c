"""Settings fields with their command-line options, the value rules, and the shared base class."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.settings.defaults import (
    DEFAULT_EXPERIMENT,
    DEFAULT_STORAGE,
    DEFAULT_TRACKING_URI,
    ENSEMBLE_K,
    EXPERIMENT_NAME_MAX,
    HEARTBEAT_MAX,
    HEARTBEAT_SECONDS,
    PRECISIONS,
    SEED_MAX,
    SEEDS_MAX,
    SUBSET_MAX,
    SUBSET_MIN,
    WHOLE_MAX,
)
from benchmark.settings.stores import tracking_uri

Rule = Callable[[Any], Any]  # returns the value or raises ValueError with the message

# ---- the value rules, one each: argparse and validate() both apply them --------------------


def whole_number(text: str) -> int:
    """Text as an int, or ValueError with the message the command line prints."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def decimal_number(text: str) -> float:
    """Text as a float, or ValueError with the message the command line prints."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def accuracy_target(value: float) -> float:
    """The value if it is an accuracy a run can reach: above 0 and at most 1 (NaN is not)."""
    if not 0 < value <= 1:
        raise ValueError(f"must be above 0 and at most 1 (a fraction, 0.99 for 99%), got {value}")
    return value


def positive(value: int) -> int:
    """The value if it is 1 or more (and a whole number TensorFlow and NumPy can hold)."""
    if value <= 0:
        raise ValueError(f"must be a positive whole number, got {value}")
    return _held(value)


def non_negative(value: int) -> int:
    """The value if it is 0 or more (and a whole number TensorFlow and NumPy can hold)."""
    if value < 0:
        raise ValueError(f"must be 0 or more, got {value}")
    return _held(value)


def _held(value: int) -> int:
    """The value if it fits in 64 bits, as every count and size handed to TensorFlow must."""
    if value > WHOLE_MAX:
        raise ValueError(f"must be at most {WHOLE_MAX} (2^63 - 1), got {value}")
    return value


def seed_number(value: int) -> int:
    """The value if NumPy's and Optuna's random generators take it: 0 to 2^32 - 1."""
    if non_negative(value) > SEED_MAX:
        raise ValueError(f"must be 0 to {SEED_MAX} (2^32 - 1), got {value}")
    return value


def seed_count(value: int) -> int:
    """The value if it is a --seeds count: 1 to SEEDS_MAX trainings per architecture."""
    if not 1 <= value <= SEEDS_MAX:
        raise ValueError(f"must be 1 to {SEEDS_MAX}, got {value}")
    return value


def heartbeat_seconds(value: int) -> int:
    """The value if it is a heartbeat Optuna can keep: 1 s to a day."""
    if not 1 <= value <= HEARTBEAT_MAX:
        raise ValueError(f"must be 1 to {HEARTBEAT_MAX} seconds (a day), got {value}")
    return value


def experiment_name(text: str) -> str:
    """The text if MLflow takes it as an experiment name: not blank, at most 500 characters."""
    if not text.strip():
        raise ValueError(f"must name an experiment, got {text!r}")
    if len(text) > EXPERIMENT_NAME_MAX:
        raise ValueError(
            f"must be at most {EXPERIMENT_NAME_MAX} characters (MLflow's limit), got {len(text)}"
        )
    return text


def whole_number_or_auto(text: str) -> int | None:
    """Text as an int, or None for `auto`; ValueError with the message the command line prints."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number or auto, got {text!r}") from None


def positive_or_auto(value: int | None) -> int | None:
    """The value if it is None (auto) or 1 or more."""
    return value if value is None else positive(value)


def subset_size(value: int) -> int:
    """The value if it is a --subset MNIST can give: a stratified one per class up to 54,000."""
    if not SUBSET_MIN <= value <= SUBSET_MAX:
        raise ValueError(
            f"must be between {SUBSET_MIN} (one image per class) and {SUBSET_MAX} (training "
            f"images left after the validation split), got {value}"
        )
    return value


@dataclass(frozen=True)
class Option:
    """One command-line option of a settings field; `kwargs` go to argparse as they are."""

    flags: tuple[str, ...]
    help: str | None = None
    rule: Rule | None = None  # positive, non_negative ...: the option's text is checked
    group: str | None = None  # options sharing a group exclude each other
    parse: Callable[[str], Any] = whole_number  # what a ruled option's text becomes first
    kwargs: dict[str, Any] = field(default_factory=dict)


def option(
    *flags: str,
    help: str | None = None,  # noqa: A002 (argparse's own name for it)
    rule: Rule | None = None,
    group: str | None = None,
    parse: Callable[[str], Any] = whole_number,
    **kwargs: Any,
) -> Option:
    """An Option; `rule` checks its text once `parse`d (into a whole number by default)."""
    return Option(flags, help, rule, group, parse, kwargs)


def cli(*options: Option, read: Any = None, logged: bool = False) -> dict[str, Any]:
    """Field metadata: its options, how to read it from parsed arguments, whether it is logged.

    `read(namespace)` is for a field that several options set (--seed/--seeds, --all/--arch);
    without it the field is the value of its option, whose argparse dest is the field's name.
    """
    return {"options": options, "read": read, "logged": logged}


def one_option(default: Any, *flags: str, logged: bool = False, **kwargs: Any) -> Any:
    """A settings field with one command-line option (see `option` for `kwargs`)."""
    return field(default=default, metadata=cli(option(*flags, **kwargs), logged=logged))


def experiment_field() -> Any:
    """The --experiment option's field; None until checked: then the dataset's default."""
    return one_option(
        None,
        "--experiment",
        rule=experiment_name,
        parse=str,
        help=f"MLflow experiment name (default {DEFAULT_EXPERIMENT}, or "
        f"{DEFAULT_EXPERIMENT}-<dataset> for datasets other than MNIST)",
    )


def tracking_uri_field() -> Any:
    """The --tracking-uri option's field; None: $MLFLOW_TRACKING_URI or the default."""
    return one_option(
        None,
        "--tracking-uri",
        rule=tracking_uri,
        parse=str,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
        f"{DEFAULT_TRACKING_URI} in the working directory)",
    )


def precision_field() -> Any:
    """The --precision option's field: auto, float32, bfloat16 or float16 (resolved first)."""
    return one_option(
        "auto",
        "--precision",
        logged=True,
        choices=PRECISIONS,
        help="arithmetic of the hidden layers: bfloat16 or float16 (Keras mixed_bfloat16 "
        "or mixed_float16, the output layer and loss stay float32) or float32; auto "
        "picks bfloat16 where the hardware has it natively (CPU avx512_bf16 or AMX, GPU "
        "compute capability 8.0+), float16 on a GPU of 7.x, float32 elsewhere",
    )


def heartbeat_field(what: str) -> Any:
    """The --heartbeat option's field: seconds between `what`'s heartbeats."""
    return one_option(
        HEARTBEAT_SECONDS,
        "--heartbeat",
        rule=heartbeat_seconds,
        metavar="SECONDS",
        help=f"seconds between {what}'s heartbeats; {what} silent for 3 of them is "
        f"failed and retried (default {HEARTBEAT_SECONDS})",
    )


def storage_field() -> Any:
    """The --storage option's field: the Optuna storage URL."""
    return one_option(
        DEFAULT_STORAGE,
        "--storage",
        help=f"Optuna storage, any SQLAlchemy URL (default {DEFAULT_STORAGE} here; "
        "postgresql://user:password@host/db to share a study between machines)",
    )


def study_name_field() -> Any:
    """The --study-name option's field; None: the default study."""
    help_ = "Optuna study (default <dataset>-<arch>, e.g. mnist-basic: one per dataset and arch)"
    return one_option(None, "--study-name", help=help_)


def _read_ensemble_k(namespace: Any) -> int | None:
    """The ensemble size asked for, or None when no ensemble row is wanted."""
    if namespace.ensemble_k is not None:
        return namespace.ensemble_k
    return ENSEMBLE_K if namespace.ensemble else None


def ensemble_k_field(logged: bool = False) -> Any:
    """Top-k-by-validation ensemble row: --ensemble, or --ensemble-k K; None for none."""
    return field(
        default=None,
        metadata=cli(
            option(
                "--ensemble",
                action="store_true",
                help="add a row averaging the softmax of the top-K runs by validation accuracy",
            ),
            option(
                "--ensemble-k",
                rule=positive,
                metavar="K",
                help=f"ensemble size (default {ENSEMBLE_K}; implies --ensemble)",
            ),
            read=_read_ensemble_k,
            logged=logged,
        ),
    )


class Settings:
    """Shared behaviour of the settings dataclasses: read, check and log them generically.

    Every instance is validated when it is made, so a bad value never reaches the layers below.
    """

    @classmethod
    def from_args(cls, namespace: Any) -> Any:
        """The settings the parsed command line asks for (validated, as any settings are)."""
        values = {}
        for item in dataclasses.fields(cls):  # type: ignore[arg-type]
            read = item.metadata.get("read")
            if read is not None:
                values[item.name] = read(namespace)
            elif hasattr(namespace, item.name):
                values[item.name] = getattr(namespace, item.name)
        return cls(**values)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse bad input before any data is loaded or any model trained."""
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            for opt in item.metadata.get("options", ()):
                value = getattr(self, item.name)
                choices = opt.kwargs.get("choices")
                if opt.rule is not None and (_is_number(value) or isinstance(value, str)):
                    try:
                        opt.rule(value)
                    except ValueError as error:
                        raise BenchmarkError(f"argument {opt.flags[0]}: {error}") from None
                if choices and value is not None and value not in choices:
                    raise BenchmarkError(
                        f"argument {opt.flags[0]}: invalid choice: {value!r} "
                        f"(choose from {', '.join(choices)})"
                    )
        self.check()

    def check(self) -> None:
        """Checks across fields and against the registry; none by default."""

    def logged_params(self) -> dict[str, Any]:
        """The logged fields as MLflow params: `asdict`, lists joined by commas."""
        logged = {f.name for f in dataclasses.fields(self) if f.metadata.get("logged")}  # type: ignore[arg-type]
        return {
            key: ",".join(map(str, value)) if isinstance(value, list) else value
            for key, value in dataclasses.asdict(self).items()  # type: ignore[call-overload]
            if key in logged
        }


def check_architectures(names: list[str]) -> None:
    """Refuse names the registry does not know; its message lists the valid ones. No Keras."""
    import architectures

    for name in names:
        try:
            architectures.check_name(name)
        except KeyError as error:
            raise BenchmarkError(error.args[0]) from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
