"""Translators between the neutral model and the providers' native YAML.

``render`` is the one entry point: it picks the target translators and returns the files
and fidelity losses of all of them, files keyed by their path relative to the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Literal

from ..errors import UsageError
from ..model.pipeline import Pipeline
from .fidelity import Loss, Rendering

Target = Literal["github", "gitlab", "all"]
TARGETS: tuple[str, ...] = ("github", "gitlab")


def render(pipeline: Pipeline, target: Target | str = "all") -> Rendering:
    """Generate the native files of ``pipeline`` for ``target`` (github, gitlab or all).

    Raises:
        UsageError: when ``target`` is not one of the three.
    """
    if target not in (*TARGETS, "all"):
        raise UsageError(f'unknown target "{target}": use github, gitlab or all')
    source = pipeline.source
    name = PurePath(source.file).name if source else None
    render_github, render_gitlab = _generators()
    result = Rendering()
    if target in ("github", "all"):
        result = result.merged(render_github(pipeline, name))
    if target in ("gitlab", "all"):
        result = result.merged(render_gitlab(pipeline, name))
    return result


def fidelity_losses(pipeline: Pipeline, target: Target | str = "all") -> tuple[Loss, ...]:
    """The losses ``render`` would report, without writing the YAML (cheaper: an audit)."""
    if target not in (*TARGETS, "all"):
        raise UsageError(f'unknown target "{target}": use github, gitlab or all')
    losses: tuple[Loss, ...] = ()
    render_github, render_gitlab = _generators()
    if target in ("github", "all"):
        losses += render_github(pipeline, dump=False).losses
    if target in ("gitlab", "all"):
        losses += render_gitlab(pipeline, dump=False).losses
    return losses


def _generators() -> tuple[Callable[..., Rendering], Callable[..., Rendering]]:
    """The two generators, imported on first use: ``cicd run`` and the store never render,
    and importing both costs a noticeable part of the command's start-up."""
    from .github import render_github
    from .gitlab import render_gitlab

    return render_github, render_gitlab


__all__ = ["TARGETS", "Loss", "Rendering", "Target", "fidelity_losses", "render"]
