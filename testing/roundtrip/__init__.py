"""The normalising round-trip checker: is a re-generated file the same pipeline?

``check_gitlab`` and ``check_github`` take an ORIGINAL native file and the file generated for
the same provider after import (import -> ``pipeline_from_data`` -> ``render``), reduce both
to a semantic form and return the differences, each a ``Difference(path, what)``. An empty
list is an exact round trip.

The semantic form, per provider:

* jobs: the set of runnable jobs, original names mapped through the importer's renames
  (notes ``job-rename`` / ``job-renamed``); hidden GitLab jobs and templates do not count.
* dependency graph: for each job, the jobs that must finish before it, as a transitive
  closure (GitLab: ``needs`` when given, else every job of an earlier stage; GitHub:
  ``needs``), so a listed need and one implied through a chain are the same.
* scripts: GitLab: ``before_script + script + after_script`` after ``include`` (local),
  ``extends``, ``!reference`` and ``default:`` inheritance, as one list of non-blank lines;
  GitHub: the ordered steps as run text, or the action (``owner/repo@ref``) and its ``with``.
* matrix: the set of combinations (GitLab ``parallel``; GitHub ``strategy.matrix`` with
  ``include``/``exclude`` applied as GitHub documents).
* conditions and triggers: evaluated, not compared as text: each job's (and GitHub step's)
  condition and the pipeline's triggers are evaluated on a fixed set of simulated events
  (pushes to main, to a feature branch, of a tag, a merge/pull request, a schedule, a manual
  run; upstream jobs succeeded or failed), and the outcomes are compared.

What the generators add by design normalises away, and nothing else: the ``CICD_*``
prelude (GitLab ``default:before_script``, GitHub ``export CICD_...`` lines, ``CICD_*``
variables), ``needs: []``, the tar steps around artifacts, SHA pins of the actions the
generator emits itself, templates passed to scripts through ``env:`` (``${VAR}`` whose
variable is one ``${{ expr }}`` is read as that expression on both sides), step retry
loops, YAML quoting and layout.

Modules: ``common`` (``Difference``, the comparison of two semantic forms), ``gitlab`` and
``github`` (each provider's semantic form and expression reader), ``corpus`` (the shared corpus
of real-world files and importing it). Tests import from this package only.
"""

from .common import Difference, renames_from_notes
from .corpus import CORPUS, CorpusImport, corpus_files, corpus_repo_trees, import_corpus
from .github import GITHUB_EVENTS, check_github, github_expression
from .gitlab import GITLAB_EVENTS, check_gitlab, gitlab_expression

__all__ = [
    "CORPUS",
    "GITHUB_EVENTS",
    "GITLAB_EVENTS",
    "CorpusImport",
    "Difference",
    "check_github",
    "check_gitlab",
    "corpus_files",
    "corpus_repo_trees",
    "github_expression",
    "gitlab_expression",
    "import_corpus",
    "renames_from_notes",
]
