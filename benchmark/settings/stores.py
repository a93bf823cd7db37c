"""The tracking URIs MLflow's client can open, told by their scheme without importing MLflow."""

from __future__ import annotations

from importlib.metadata import entry_points
from urllib.parse import urlsplit

from benchmark.settings.defaults import TRACKING_SCHEMES, TRACKING_STORE_PLUGINS

DATABASES = ("postgresql", "mysql", "sqlite", "mssql")  # "+driver" may follow: mysql+pymysql


def tracking_scheme(uri: str) -> str:
    """The scheme MLflow picks the tracking store by: a database's without its driver, "" for a
    local path (a Windows drive letter is one)."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme.startswith(DATABASES):
        return scheme.partition("+")[0]
    return "" if len(scheme) == 1 and scheme.isalpha() else scheme


def tracking_uri(uri: str) -> str:
    """The URI if MLflow has a tracking store for its scheme; else ValueError listing them."""
    scheme = tracking_scheme(uri)
    if scheme in ("", *TRACKING_SCHEMES):
        return uri
    plugins = {entry.name for entry in entry_points(group=TRACKING_STORE_PLUGINS)}
    if scheme in plugins:
        return uri
    raise ValueError(
        f"scheme '{scheme}' is not a tracking store MLflow supports; use sqlite:///FILE.db, "
        "http(s)://HOST:PORT (an MLflow server), postgresql://, mysql:// or mssql:// "
        "(a database), file:///FOLDER, databricks"
        + "".join(f", {name}://" for name in sorted(plugins))
    )
