"""Opening the provider backends a command names: flags checked, credentials loaded.

Shared by the command line and the Python API; a bad name is a ``UsageError`` before any
credential is read or any request sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import UsageError
from ..literals import PROVIDERS, Provider, parse_provider
from .base import Backend
from .credentials import load_credentials
from .transport import Policy

_GITHUB_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITLAB_PROJECT = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


def open_backends(
    provider: str,
    *,
    repo: str | None = None,
    project: str | None = None,
    github_url: str | None = None,
    gitlab_url: str | None = None,
    budget: int | None = None,
    on_wait: Callable[[str], None] | None = None,
    trace: Callable[[str], None] | None = None,
) -> list[tuple[Provider, Backend]]:
    """The backends for ``provider`` (``github``, ``gitlab`` or ``both``), in that order.

    Raises:
        UsageError: a missing or malformed ``repo``/``project``, an unknown provider, a budget
            below 1.
        CICDError: no token (see ``credentials.load_credentials``).
    """
    if provider not in ("github", "gitlab", "both"):
        raise UsageError(f'unknown provider "{provider}": use github, gitlab or both')
    if budget is not None and budget < 1:
        raise UsageError(f"--budget must be at least 1, got {budget}")
    wanted = list(PROVIDERS) if provider == "both" else [parse_provider(provider)]
    if "github" in wanted and not (repo and _GITHUB_REPO.match(repo)):
        raise UsageError(
            f'GitHub needs a repository "OWNER/NAME" (--repo; repo= in Python), got {repo!r}'
        )
    if "gitlab" in wanted and not (project and _GITLAB_PROJECT.match(project)):
        raise UsageError(
            f'GitLab needs a project "GROUP/NAME" (--project; project= in Python), got {project!r}'
        )
    policy = Policy(budget=budget, on_wait=on_wait, trace=trace)
    out: list[tuple[Provider, Backend]] = []
    for name in wanted:
        if name == "github":
            from .github import GitHubBackend

            assert repo is not None
            out.append(
                (
                    name,
                    GitHubBackend(repo, load_credentials("github", url=github_url), policy=policy),
                )
            )
        else:
            from .gitlab import GitLabBackend

            assert project is not None
            out.append(
                (
                    name,
                    GitLabBackend(
                        project, load_credentials("gitlab", url=gitlab_url), policy=policy
                    ),
                )
            )
    return out
