"""Passwords in URLs never reach a message: userinfo, query parameters, unescaped "@"."""

from __future__ import annotations

import pytest

from benchmark.redaction import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:secretpw@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@127.0.0.1:9/db?password=secretpw2",
            "postgresql://u@127.0.0.1:9/db?password=***",
        ),
        ("postgresql://u:se@cretpw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
        (
            "postgresql+psycopg://u:p%40ss@h/db?sslmode=require&PASSWORD=x1y2z3",
            "postgresql+psycopg://u:***@h/db?sslmode=require&PASSWORD=***",
        ),
        ("http://user:tok3n@127.0.0.1:5000", "http://user:***@127.0.0.1:5000"),
        ("sqlite:///optuna.db", "sqlite:///optuna.db"),
        ("sqlite:////tmp/a@b.db", "sqlite:////tmp/a@b.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_a_password_echoed_in_an_error_is_masked_wherever_it_recurs() -> None:
    url = "postgresql://u:se@cretpw@h/db"
    error = 'connection to server failed: password authentication failed (password "se@cretpw")'
    assert "cretpw" not in redact_text(error, url)
    libpq = "invalid dsn: host=h user=u password=s3cr3t dbname=db"
    assert "s3cr3t" not in redact_text(libpq)
    encoded = "postgresql://u:p%40ss%21@h/db"
    assert "p@ss!" not in redact_text("failed for p@ss! at h", encoded)


def test_text_without_secrets_is_unchanged() -> None:
    text = "study storage sqlite:///optuna.db is unreachable: disk I/O error (user=me)"
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "storage",
    [
        "postgresql://u@127.0.0.1:9/db?password=secretpw2",
        "postgresql://u:se@cretpw2@127.0.0.1:9/db",
    ],
)
def test_tune_never_prints_a_storage_password(
    storage: str, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12 defect 7: a query password, or one with an unescaped "@", was printed."""
    from benchmark.cli import EXIT_USER_ERROR, main

    code = main(
        ["tune", "--arch", "mlp", "--trials", "1", "--storage", storage, "--tracking-uri", store]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_USER_ERROR
    assert "unreachable" in err
    assert "cretpw2" not in out + err
    assert "secretpw2" not in out + err


def test_any_error_line_masks_a_password_given_in_the_arguments(monkeypatch, capsys) -> None:
    """The command line masks what a lower layer forgot to: the error line never holds it."""
    import importlib

    cli_main = importlib.import_module("benchmark.cli.main")  # the module, not main()
    from benchmark.errors import BenchmarkError

    url = "http://alice:Sw0rdfish9@127.0.0.1:9"

    def fail(args):
        raise BenchmarkError(f"tracking store {url} failed (password Sw0rdfish9 refused)")

    monkeypatch.setattr(cli_main, "_dispatch", fail)
    assert cli_main.main(["leaderboard", "--tracking-uri", url]) == 2
    err = capsys.readouterr().err
    assert "Sw0rdfish9" not in err
    assert err.startswith("error: tracking store http://alice:***@127.0.0.1:9 failed"), err
