"""Translators between the neutral model and the providers' native YAML.

``render`` is the one entry point: it picks the target translators and returns the files
and fidelity losses of all of them, files keyed by their path relative to the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from ..literals import Target, parse_target
from ..model.pipeline import Pipeline
from .fidelity import Loss, Rendering


def render(pipeline: Pipeline, target: Target | str = "all") -> Rendering:
    """Generate the native files of ``pipeline`` for ``target`` (github, gitlab or all).

    Raises:
        UsageError: when ``target`` is not one of the three.
    """
    which = parse_target(target)
    source = pipeline.source
    name = PurePath(source.file).name if source else None
    render_github, render_gitlab = _generators()
    result = Rendering()
    if which in ("github", "all"):
        result = result.merged(render_github(pipeline, name))
    if which in ("gitlab", "all"):
        result = result.merged(render_gitlab(pipeline, name))
    return result


def fidelity_losses(pipeline: Pipeline, target: Target | str = "all") -> tuple[Loss, ...]:
    """The losses ``render`` would report, without writing the YAML (cheaper: an audit)."""
    which = parse_target(target)
    losses: tuple[Loss, ...] = ()
    render_github, render_gitlab = _generators()
    if which in ("github", "all"):
        losses += render_github(pipeline, dump=False).losses
    if which in ("gitlab", "all"):
        losses += render_gitlab(pipeline, dump=False).losses
    return losses


def _generators() -> tuple[Callable[..., Rendering], Callable[..., Rendering]]:
    """The two generators, imported on first use: ``cicd run`` and the store never render,
    and importing both costs a noticeable part of the command's start-up."""
    from .github import render_github
    from .gitlab import render_gitlab

    return render_github, render_gitlab


__all__ = ["Loss", "Rendering", "Target", "fidelity_losses", "render"]
