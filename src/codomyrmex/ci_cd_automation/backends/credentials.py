"""Where tokens and base URLs come from, and how they are kept out of sight.

A ``Credentials`` never shows its token: ``repr`` and ``str`` print ``***``.
See docs/sync-and-polling.md (credentials).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CICDError
from ..literals import Provider

DEFAULT_URLS: dict[str, str] = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}
_TOKEN_VARS = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}
_URL_VARS = {"github": "GITHUB_API_URL", "gitlab": "GITLAB_URL"}


@dataclass(frozen=True)
class Credentials:
    """A provider's base URL and token."""

    provider: Provider
    url: str
    token: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.provider} at {self.url} (token ***)"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("CICD_CONFIG"):
        return Path(env["CICD_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cicd" / "config.toml"


def load_credentials(
    provider: Provider,
    *,
    url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """The credentials for ``provider``; ``url`` (a flag) wins over every other source.

    Raises:
        CICDError: no token anywhere, or an unreadable, malformed or too open config file.
    """
    env = os.environ if environ is None else environ
    table = _config_table(provider, config_path(env))
    token = env.get(_TOKEN_VARS[provider]) or table.get("token")
    base = url or env.get(_URL_VARS[provider]) or table.get("url") or DEFAULT_URLS[provider]
    if not token:
        raise CICDError(
            f'no {provider} token: set {_TOKEN_VARS[provider]} or put token = "..." under '
            f"[{provider}] in {config_path(env)}"
        )
    return Credentials(provider, str(base).rstrip("/"), str(token))


def _config_table(provider: str, path: Path) -> dict[str, object]:
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CICDError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CICDError(f"{path}: not a valid TOML config file ({exc})") from exc
    table = data.get(provider, {})
    if not isinstance(table, dict):
        raise CICDError(f"{path}: [{provider}] must be a table")
    if "token" in table and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CICDError(f"{path}: holds a token but other users can read it; run chmod 600 {path}")
    return table
