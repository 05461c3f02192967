"""Settings of the Vearch-compatible REST server."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MASTER_PORT",
    "DEFAULT_PORT",
    "DEFAULT_ROOT_PASSWORD",
    "ROOT_PASSWORD_VARIABLE",
    "ServerSettings",
    "root_password_from_environment",
]

# Vearch's router listens on 9001 and its master on 8817 (config/config.toml).
DEFAULT_PORT = 9001
DEFAULT_MASTER_PORT = 8817
# Vearch creates the user root with the password global.signkey, "secret" by default.
DEFAULT_ROOT_PASSWORD = "secret"
# Environment variable that sets the password of the user root for every Qiao server.
ROOT_PASSWORD_VARIABLE = "QIAO_VECTORDB_ROOT_PASSWORD"


def root_password_from_environment() -> str:
    """Return $QIAO_VECTORDB_ROOT_PASSWORD, or Vearch's default when it is unset or empty."""
    return os.environ.get(ROOT_PASSWORD_VARIABLE) or DEFAULT_ROOT_PASSWORD


@dataclass
class ServerSettings:
    """How the server listens and authenticates.

    ``master_port`` adds a second listener that serves only the master routes,
    as Vearch's master process does; None serves everything on ``port``.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    master_port: int | None = None
    root_password: str = DEFAULT_ROOT_PASSWORD
    skip_auth: bool = False
    cluster_name: str = "qiao"
    # Default request timeout in milliseconds, as Vearch's router (10 s).
    default_timeout_ms: int = 10_000
