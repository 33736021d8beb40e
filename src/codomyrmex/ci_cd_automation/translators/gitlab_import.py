"""Reading native ``.gitlab-ci.yml`` files into the neutral pipeline model (issue 3).

The reverse of ``translators.gitlab``. ``import_gitlab`` returns plain data in the neutral
pipeline *file* shape (``name``, ``config``, ``stages[].jobs[]``) plus notes: one
``(path, message, rule)`` for every construct that was kept in an escape hatch or dropped.

The work happens in passes over plain data, in GitLab's own order (gitlab-ci-local is the
reference for the semantics):

1. YAML: ruamel round-trip, so anchors, aliases and ``<<`` merge keys are resolved by the
   parser; ``!reference [a, b]`` (refused by ``model.loader``) becomes a ``_Reference``.
2. ``include``: local files (``local:``, a plain string, a list, globs) are read relative to
   ``base_dir`` and merged *under* the including file (its keys win, hashes deep-merge).
   Remote, project, template and component includes cannot be read offline: they are kept in
   ``config.gitlab.include`` with a note.
3. ``extends`` (multi-level, several parents, cycles refused) with GitLab's deep merge:
   hashes merge, arrays and scalars replace. Then ``!reference`` tags are resolved against the
   extended document and nested script lists are flattened.
4. ``default:`` and the legacy global keywords are inherited by every job that does not set
   the key (``inherit:default`` honoured); hidden jobs (``.name``) are templates only.
5. Each job maps to a neutral job. What has a neutral form is translated; what has none is
   kept verbatim in the job's ``gitlab:`` escape hatch (or ``config.gitlab``) with a note.
   Nothing is silently dropped.

Invariants:

* Stage order: a job without ``needs`` waits for every job of every earlier stage. When no
  job of a stage lists ``needs``, that is the stage's ``dependencies`` (all earlier non-empty
  stages); otherwise the jobs without ``needs`` list those jobs as job ``needs``.
* ``before_script`` and ``script`` become *one* run step: GitLab runs them in one shell, so a
  ``cd`` or ``export`` on one line holds for the next; one step per line would break that.
  ``after_script`` runs even when the script failed and has no neutral form: escape hatch.
* Names that are not valid neutral names (``build:linux``, ``test 1``) are renamed
  deterministically (invalid characters become ``_``, a suffix ``_2``... on clashes) with a
  note; every ``needs`` follows the rename.
* The result is validated with ``pipeline_from_data``; a file that cannot become a valid
  pipeline raises ``GitLabImportError`` (a ``ValueError``) with a one-line message naming the
  file and the reason. No other exception escapes for any input text.

* Conditions fold only when exact (see "rules:if expressions and exact folding" below):
  ``workflow:rules`` become ``config.triggers``, a job's ``rules`` (or its legacy
  ``only``/``except``, read as the equivalent rules) one neutral ``when``; otherwise they
  stay verbatim in the escape hatch, so same-provider output is unchanged.
* Notes carry native paths: the first element is the top-level key as written (a job name,
  ``variables``, ``workflow``, ``include``...), so positions can be looked up in the file.
* Duplicate keys: the last one wins, as in GitLab's YAML parser (a note says where).

* ``artifacts:reports:dotenv`` becomes job ``outputs`` when the script's writes to the file
  are plain ``KEY=`` lines (see ``dotenv_outputs``); the jobs that receive the artifacts get
  the keys in their env. Otherwise the report stays in the escape hatch.
* A file without ``workflow:rules`` runs for every pipeline source: kept for GitLab as
  ``workflow:rules [when: always]`` (merge requests excluded when no job asks for them), with
  push and manual as the neutral triggers. Jobs GitLab clones for get a checkout step.
* ``$CI_COMMIT_SHA``, ``$CI_PIPELINE_ID`` and ``$CI_PROJECT_DIR`` in scripts become the
  neutral ``$CICD_*`` facts; other predefined variables are noted (empty elsewhere).

Limits (each noted on import): when workflow:rules fold into neutral triggers, a job's
``when`` is checked only on the pipelines those triggers start; ``needs:artifacts: false``
and ``optional`` are dropped; a later-stage job that GitLab runs although an earlier job was
left out by rules is, in the model, skipped with it, so it gets that job's conditions.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..model.loader import plain_scalar
from ..model.pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    IDENT_PATTERN,
    JOB_NAME_PATTERN,
    RESERVED_VARIABLE_PREFIXES,
    Pipeline,
)
from .gitlab import PRELUDE, RETRY_WHEN, glob_regex
from .merge import deep_merge
from .shell import rewrite_unquoted

Note = tuple[tuple[Any, ...], str, str]

MAX_INCLUDE_DEPTH = 100  # GitLab's limit on nested includes ("include", limits)
MAX_EXTENDS_DEPTH = 11  # GitLab: "up to eleven levels of inheritance"
MAX_REFERENCE_DEPTH = 10  # GitLab: "!reference ... up to ten levels of nesting"

# Top-level keys GitLab reads as keywords, never as jobs (CI/CD YAML syntax reference).
GLOBAL_KEYS = frozenset(
    {"stages", "types", "variables", "include", "workflow", "default", "spec"}
    | {"image", "services", "before_script", "after_script", "cache"}
)
# Keys `default:` may set, which jobs inherit ("default", CI/CD YAML syntax reference).
DEFAULT_KEYS = frozenset(
    {"after_script", "artifacts", "before_script", "cache", "hooks", "id_tokens", "image"}
    | {"interruptible", "retry", "services", "tags", "timeout"}
)
DEFAULT_STAGES = ["build", "test", "deploy"]
EVENTS = {
    "push": "push",
    "merge_request_event": "pull_request",
    "schedule": "schedule",
    "web": "manual",
    "api": "manual",
}
RETRY_REASONS = {w: k for k, ws in RETRY_WHEN.items() for w in ws}
_DURATION_WORDS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip


class GitLabImportError(ValueError):
    """Raised when a GitLab CI file cannot be read into a valid neutral pipeline."""

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = " ".join(reason.split())
        super().__init__(f"{file}: {self.reason}")


@dataclass(frozen=True)
class _Reference:
    """An unresolved ``!reference [job, key, ...]``."""

    path: tuple[str, ...]


@dataclass
class ImportResult:
    """The neutral pipeline file data and the notes on what did not carry over exactly."""

    data: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    tree: Any = None  # ruamel's round-trip tree of the main file (line/column of nodes)
    pipeline: Pipeline | None = None  # the validated model of ``data``


# --- reading YAML ---------------------------------------------------------------------


def _parse(
    text: str, file: str, notes: list[Note] | None = None, trees: list[Any] | None = None
) -> Any:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        nodes = list(yaml.compose_all(text))
        for node in nodes:
            _last_key_wins(node, file, notes if notes is not None else [], set())
        docs = [yaml.constructor.construct_document(node) for node in nodes]
        if trees is not None and docs:
            trees.append(docs[-1])
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise GitLabImportError(file, f"invalid YAML: {problem}{where}") from None
    except RecursionError:
        raise GitLabImportError(file, "YAML nesting is too deep") from None
    if len(docs) == 2 and isinstance(docs[0], dict) and set(docs[0]) == {"spec"}:
        # A `spec:` header document, then the configuration (GitLab "spec:inputs").
        body = _plain(docs[1], file, 0)
        if isinstance(body, dict):
            body["spec"] = _plain(docs[0]["spec"], file, 0)
        return body
    if len(docs) > 1:
        raise GitLabImportError(file, f"expected one YAML document, found {len(docs)}")
    return _plain(docs[0], file, 0) if docs else None


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _last_key_wins(node: Any, file: str, notes: list[Note], seen: set[int]) -> None:
    """Read duplicate keys as GitLab's YAML parser (Ruby Psych) does: the last one wins.

    ruamel keeps the first and refuses a second ``<<`` merge key outright. Several ``<<``
    keys become one ``<<: [later, ..., earlier]`` list, so later merges win as in Psych.
    """
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        merges = [(k, v) for k, v in node.value if k.tag == _MERGE_TAG]
        if len(merges) > 1:
            values: list[Any] = []
            for _, value in reversed(merges):
                values.extend(value.value if isinstance(value, SequenceNode) else [value])
            key, first = merges[0]
            merged = SequenceNode(
                "tag:yaml.org,2002:seq",
                values,
                start_mark=first.start_mark,
                end_mark=first.end_mark,
                flow_style=True,
            )
            others = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
            node.value = [(key, merged), *others]
            notes.append(
                ((), f"line {key.start_mark.line + 1}: several << merge keys", "duplicate-key")
            )
        plain = [
            (i, k.value)
            for i, (k, _) in enumerate(node.value)
            if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG
        ]
        last = {key: i for i, key in plain}
        if len(last) < len(plain):
            kept = []
            for i, (k, v) in enumerate(node.value):
                if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG and last[k.value] != i:
                    notes.append(
                        (
                            (str(k.value),),
                            f'line {k.start_mark.line + 1}: duplicate key "{k.value}"; '
                            "the last one wins, as in GitLab",
                            "duplicate-key",
                        )
                    )
                    continue
                kept.append((k, v))
            node.value = kept
        for _, value in node.value:
            _last_key_wins(value, file, notes, seen)
    elif isinstance(node, SequenceNode):
        for value in node.value:
            _last_key_wins(value, file, notes, seen)


def _plain(node: Any, file: str, depth: int) -> Any:
    """ruamel's round-trip tree as plain data; ``!reference`` sequences become references."""
    if depth > 200:
        raise GitLabImportError(file, "YAML nesting is too deep")
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, list) and tag == "!reference":
        if not all(isinstance(p, str) for p in node) or not node:
            raise GitLabImportError(file, "!reference needs a list of key names")
        return _Reference(tuple(str(p) for p in node))
    if isinstance(node, dict):
        return {str(k): _plain(v, file, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, file, depth + 1) for v in node]
    value = plain_scalar(node)
    return value if value is None or isinstance(value, str | int | float) else str(value)


# --- the importer ---------------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        name: str,
        base_dir: Path | None,
        include_resolver: Callable[[str], str | None] | None = None,
    ) -> None:
        self.file = name
        self.base_dir = base_dir
        self.include_resolver = include_resolver
        self.notes: list[Note] = []
        self.hatch: dict[str, Any] = {}
        self.missing_parents: dict[str, list[str]] = {}
        self._job_hatch: dict[str, Any] = {}
        self.space: dict[str, Any] | None = None  # folded triggers
        self.config_variables: set[str] = set()
        self.global_variables: dict[str, Any] = {}
        self.trees: list[Any] = []  # the main file's round-trip tree, for positions
        self.dotenv: dict[str, list[str]] = {}  # neutral producer job -> its dotenv keys
        self.doc_jobs: set[str] = set()
        self.workflow_rules: list[_Rule] | None = None  # workflow kept, but readable

    def note(self, path: tuple[Any, ...], message: str, rule: str) -> None:
        self.notes.append((path, message, rule))

    def fail(self, reason: str) -> GitLabImportError:
        return GitLabImportError(self.file, reason)

    # includes ---------------------------------------------------------------------

    def includes(self, doc: dict[str, Any], depth: int, seen: tuple[str, ...]) -> dict[str, Any]:
        spec = doc.pop("include", None)
        if spec is None:
            return doc
        if depth > MAX_INCLUDE_DEPTH:
            raise self.fail(f"includes nest deeper than {MAX_INCLUDE_DEPTH} levels")
        entries = spec if isinstance(spec, list) else [spec]
        merged: dict[str, Any] = {}
        for index, entry in enumerate(entries):
            where = ("include", index) if isinstance(spec, list) else ("include",)
            local = None
            if isinstance(entry, str) and "://" not in entry:
                local = entry
            elif isinstance(entry, dict) and set(entry) <= {"local", "rules", "inputs"}:
                local = entry.get("local")
                if "rules" in entry or "inputs" in entry:
                    self.note(where, "include rules and inputs are ignored", "include")
            if isinstance(local, str) and self.include_resolver is not None:
                sub_text = None if _is_glob(local) else self.include_resolver(local.lstrip("/"))
                if sub_text is not None:
                    key = local.lstrip("/")
                    if key in seen:
                        raise self.fail(f'include cycle through "{local}"')
                    merged = deep_merge(merged, self._included(sub_text, key, local, depth, seen))
                    continue
                self.note(where, f'include "{local}" kept as is: not found', "include-unresolved")
                self.hatch.setdefault("include", []).append(entry)
                continue
            if not isinstance(local, str) or self.base_dir is None:
                why = (
                    "no base folder was given to resolve it"
                    if isinstance(local, str)
                    else "remote, project, template and component includes cannot be read offline"
                )
                self.note(where, f"include kept as is: {why}", "include-unresolved")
                self.hatch.setdefault("include", []).append(entry)
                continue
            for path in self._local_paths(local):
                key = str(path)
                if key in seen:
                    raise self.fail(f'include cycle through "{local}"')
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise self.fail(f'cannot read include "{local}": {exc}') from None
                merged = deep_merge(merged, self._included(text, key, local, depth, seen))
        # The including file's own keys win over what it includes (GitLab "include").
        return dict(deep_merge(merged, doc))

    def _included(
        self, text: str, key: str, local: str, depth: int, seen: tuple[str, ...]
    ) -> dict[str, Any]:
        sub = _parse(text, key, self.notes)
        if sub is None:
            return {}
        if not isinstance(sub, dict):
            raise self.fail(f'include "{local}" is not a mapping')
        return self.includes(sub, depth + 1, (*seen, key))

    def _local_paths(self, local: str) -> list[Path]:
        assert self.base_dir is not None
        rel = local.lstrip("/")
        if _is_glob(rel):
            found = sorted(p for p in self.base_dir.glob(rel) if p.is_file())
            if not found:
                raise self.fail(f'include "{local}" matches no file')
            return found
        path = self.base_dir / rel
        if not path.is_file():
            raise self.fail(f'included file "{local}" does not exist')
        return [path]

    # extends and references ----------------------------------------------------------

    def extend(self, doc: dict[str, Any]) -> dict[str, Any]:
        done: dict[str, Any] = {}

        def resolve(name: str, chain: tuple[str, ...]) -> Any:
            if name in done:
                return done[name]
            if name in chain:
                raise self.fail(f"extends cycle: {' -> '.join((*chain, name))}")
            if len(chain) > MAX_EXTENDS_DEPTH:
                raise self.fail(f'extends of "{chain[0]}" nest deeper than {MAX_EXTENDS_DEPTH}')
            job = doc.get(name)
            if not isinstance(job, dict) or "extends" not in job:
                done[name] = job
                return job
            parents = job["extends"]
            parents = parents if isinstance(parents, list) else [parents]
            base: dict[str, Any] = {}
            for parent in parents:
                if isinstance(parent, str) and parent not in doc and "include" in self.hatch:
                    # The parent is probably in an include that cannot be read offline:
                    # GitLab will merge it in, so `extends` stays in the escape hatch.
                    self.missing_parents.setdefault(name, []).append(parent)
                    continue
                if not isinstance(parent, str) or parent not in doc:
                    raise self.fail(f'job "{name}" extends unknown job "{parent}"')
                resolved = resolve(parent, (*chain, name))
                if not isinstance(resolved, dict):
                    raise self.fail(f'job "{name}" extends "{parent}", which is not a mapping')
                base = deep_merge(base, resolved)
            own = {k: v for k, v in job.items() if k != "extends"}
            done[name] = deep_merge(base, own)
            return done[name]

        return {k: resolve(k, ()) if isinstance(v, dict) else v for k, v in doc.items()}

    def references(self, node: Any, doc: dict[str, Any], depth: int = 0) -> Any:
        if isinstance(node, _Reference):
            if depth > MAX_REFERENCE_DEPTH:
                raise self.fail(f"!reference nests deeper than {MAX_REFERENCE_DEPTH} levels")
            target: Any = doc
            for part in node.path:
                if not isinstance(target, dict) or part not in target:
                    if "include" in self.hatch and node.path[0] not in doc:
                        # Probably defined in an include that cannot be read offline.
                        self.note(
                            (node.path[0],),
                            f"!reference [{', '.join(node.path)}] names nothing that was read "
                            "(in an unread include?); left out",
                            "reference-unresolved",
                        )
                        return []
                    raise self.fail(f"!reference [{', '.join(node.path)}] names nothing")
                target = target[part]
            return self.references(copy.deepcopy(target), doc, depth + 1)
        if isinstance(node, dict):
            return {k: self.references(v, doc, depth) for k, v in node.items()}
        if isinstance(node, list):
            # A reference to a list inside a list (`rules: [!reference [.r, rules], ...]`)
            # is spliced in: GitLab flattens such nested arrays (docs: "!reference tags").
            out: list[Any] = []
            for item in node:
                value = self.references(item, doc, depth)
                if isinstance(item, _Reference) and isinstance(value, list):
                    out.extend(value)
                else:
                    out.append(value)
            return out
        return node

    # the whole file ------------------------------------------------------------------

    def run(self, text: str) -> dict[str, Any]:
        doc = _parse(text, self.file, self.notes, self.trees)
        if doc is None:
            raise self.fail("the file is empty")
        if not isinstance(doc, dict):
            raise self.fail("a GitLab CI file is a mapping of keywords and jobs")
        doc = self.includes(doc, 0, ())
        doc = self.extend(doc)
        doc = self.references(doc, doc)
        return self.build(doc)

    def build(self, doc: dict[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        default = doc.get("default") or {}
        if not isinstance(default, dict):
            raise self.fail("default: must be a mapping")
        default = dict(default)
        # Our own generator's prelude (translators.gitlab.PRELUDE) is not user content.
        if default.get("before_script") == list(PRELUDE):
            del default["before_script"]
        for key in ("image", "services", "before_script", "after_script", "cache"):
            if key in doc and key not in default:
                default[key] = doc[key]  # legacy global keywords act as defaults
        for key in set(default) - DEFAULT_KEYS:
            self.note(("default", key), f'unknown default keyword "{key}" ignored', "unknown")
            del default[key]
        variables = self.variables(doc.get("variables"), ("variables",))
        for key in ("CICD_PIPELINE", "CICD_SHA", "CICD_RUN_ID", "CICD_WORKSPACE"):
            variables.pop(key, None)  # set by our generator, not user content
        if variables:
            config["variables"] = variables
        self.config_variables = set(variables)
        self.global_variables = dict(variables)
        workflow = doc.get("workflow")
        if isinstance(workflow, dict) and "rules" in workflow:
            triggers = self.workflow({"rules": workflow["rules"]})
            rest = {k: v for k, v in workflow.items() if k != "rules"}
            if triggers is not None:
                config["triggers"] = triggers
            else:
                rest = dict(workflow)
                self.note(
                    ("workflow", "rules"),
                    "workflow:rules kept verbatim: they do not fold exactly into neutral "
                    "triggers (push, pull_request, manual)",
                    "workflow-rules",
                )
            if rest:
                self.hatch["workflow"] = rest
                for name in rest if triggers is not None else ():
                    self.note(("workflow", name), f"workflow:{name} kept verbatim", "workflow")
        elif workflow is not None:
            self.hatch["workflow"] = workflow
            self.note(("workflow",), "workflow kept verbatim", "workflow")
        else:
            # Without workflow:rules GitLab runs the file for every pipeline source (push,
            # schedules, web, API, triggers); `when: always` says the same to GitLab, and
            # the neutral triggers keep what other providers can express.
            rules: list[dict[str, Any]] = [{"when": "always"}]
            if not _mentions_merge_requests(doc):
                # ...and for merge requests only when a job asks for them (rules or only).
                # When none does, saying so keeps plain jobs free of a default-only rule.
                rules.insert(
                    0, {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}
                )
            self.hatch["workflow"] = {"rules": rules}
            self.workflow_rules = _try_rules(rules)
            config["triggers"] = {"push": {}, "manual": {}}
            self.note(
                (),
                "no workflow:rules: GitLab runs the pipeline for every source, kept for GitLab "
                "as workflow:rules [when: always]; the neutral triggers are push and manual "
                "(schedules and API or trigger pipelines do not carry over)",
                "workflow-default",
            )
        if "spec" in doc:
            self.hatch["spec"] = doc["spec"]
            self.note(("config", "gitlab", "spec"), "spec:inputs kept verbatim", "spec")
        raw_stages = doc.get("stages", doc.get("types"))
        if raw_stages is None:
            raw_stages = list(DEFAULT_STAGES)
        if not isinstance(raw_stages, list):
            raise self.fail("stages: must be a list")
        stage_names = [str(s) for s in _flatten(raw_stages)]
        # .pre and .post always exist, first and last (GitLab "stages").
        stage_names = [
            ".pre",
            *[s for s in stage_names if s not in (".pre", ".post")],
            ".post",
        ]
        jobs: dict[str, list[tuple[str, dict[str, Any]]]] = {s: [] for s in stage_names}
        for key, value in doc.items():
            if key in GLOBAL_KEYS or key.startswith("."):
                continue
            if not isinstance(value, dict):
                raise self.fail(f'job "{key}" must be a mapping')
            if "trigger" in value or not ("script" in value or "run" in value):
                for name in [k for k, v in value.items() if v is None]:
                    # `key:` with nothing unsets the key; the schema refuses a null there.
                    value = {k: v for k, v in value.items() if k != name}
                    self.note((key, name), f"{name}: null left out (it unsets the key)", "null")
                self.hatch[key] = value
                why = "a trigger job" if "trigger" in value else "a job without script"
                self.note(
                    (key,), f"{why} has no neutral form; kept verbatim in config.gitlab", "trigger"
                )
                continue
            stage = str(value.get("stage", "test"))
            if stage not in jobs and "include" in self.hatch:
                self.note(
                    (key, "stage"),
                    f'stage "{stage}" is not listed (perhaps in an unread include); added last',
                    "stage-unknown",
                )
                jobs[stage] = []
                stage_names.insert(len(stage_names) - 1, stage)
            if stage not in jobs:
                raise self.fail(f'job "{key}" uses stage "{stage}", which stages: does not list')
            jobs[stage].append((key, value))
        names = self.rename_jobs([k for s in jobs.values() for k, _ in s])
        self.doc_jobs = {k for k in doc if k not in GLOBAL_KEYS and not k.startswith(".")}
        stage_ids = self.rename_stages([s for s in stage_names if jobs[s]])
        stages: list[dict[str, Any]] = []
        earlier: list[str] = []
        earlier_stages: list[str] = []
        for stage in (s for s in stage_names if jobs[s]):
            sid = stage_ids[stage]
            out_jobs = []
            any_needs = any("needs" in j for _, j in jobs[stage])
            for key, job in jobs[stage]:
                out = self.job(key, job, default, names, (key,))
                if "needs" not in job and any_needs and earlier:
                    out["needs"] = list(earlier)
                status = (out.get("when") or {}).get("status")
                if status == "on_failure" and not earlier and not out.get("needs"):
                    # GitLab: on_failure with no earlier job never runs; the model refuses it.
                    out.setdefault("gitlab", {})["when"] = status
                    del out["when"]["status"]
                    if not out["when"]:
                        del out["when"]
                    self.note((key, "when"), "on_failure in the first stage", "when")
                out_jobs.append(out)
            entry: dict[str, Any] = {"name": sid, "jobs": out_jobs}
            if not any_needs and earlier_stages:
                entry["dependencies"] = list(earlier_stages)
            stages.append(entry)
            earlier.extend(names[k] for k, _ in jobs[stage])
            earlier_stages.append(sid)
        if not stages:
            raise self.fail(
                "the file defines no job with a script (only hidden jobs, trigger jobs or "
                "jobs completed by includes)"
            )
        axes = {
            axis
            for stage in stages
            for job in stage["jobs"]
            for entry in [job.get("matrix") or {}]
            for axis in [
                *(k for k in entry if k not in ("include", "exclude")),
                *(k for combo in entry.get("include", []) for k in combo),
            ]
        }
        for name in sorted(axes & set(config.get("variables", {}))):
            # GitLab: a matrix variable overrides a global one in that job; the model
            # refuses the clash (variable-collision), so the global one stays native.
            self.hatch.setdefault("variables", {})[name] = config["variables"].pop(name)
            self.note(
                ("variables", name),
                f'variable "{name}" is also a matrix axis; kept in the escape hatch',
                "variable-collision",
            )
        if "variables" in config and not config["variables"]:
            del config["variables"]
        self.verbatim_jobs_follow(names, stage_names, stage_ids, jobs, stages)
        self.consume_dotenv(stages)
        self.note_conditional_upstream(stages, jobs, names)
        if self.hatch:
            config["gitlab"] = self.hatch
        data: dict[str, Any] = {"name": self.pipeline_name(), "stages": stages}
        if config:
            data["config"] = config
        return data

    def note_conditional_upstream(
        self,
        stages: list[dict[str, Any]],
        raw_jobs: dict[str, list[tuple[str, dict[str, Any]]]],
        names: dict[str, str],
    ) -> None:
        """Note the jobs whose stage-order dependencies may be left out of the pipeline.

        A GitLab job without ``needs`` waits for the earlier stages' jobs *that are in the
        pipeline*: one its rules leave out does not hold it back. The neutral model has no
        optional dependency, so the imported job depends on that job and is skipped with it
        (and the GitLab generator gives it that job's conditions). Said once per job.
        """
        ordered = {names[k] for st in raw_jobs.values() for k, raw in st if "needs" not in raw}
        native = {v: k for k, v in names.items()}
        by_name = {job["name"]: job for st in stages for job in st["jobs"]}
        condition = {name: _condition_of(job) for name, job in by_name.items()}
        for st in stages:
            earlier = set(st.get("dependencies", []))
            stage_jobs = [n for s2 in stages if s2["name"] in earlier for n in _names(s2)]
            for job in st["jobs"]:
                name = job["name"]
                if name not in ordered:
                    continue
                upstream = job.get("needs") or stage_jobs
                risky = [
                    u
                    for u in upstream
                    if isinstance(u, str) and condition.get(u) and condition[u] != condition[name]
                ]
                if risky:
                    shown = ", ".join(f'"{native.get(u, u)}"' for u in risky[:3])
                    more = f" and {len(risky) - 3} more" if len(risky) > 3 else ""
                    self.note(
                        (native.get(name, name),),
                        f"GitLab runs this job also when {shown}{more} (earlier stages, with "
                        "rules of their own) are left out of the pipeline; the model has no "
                        "optional dependency, so here it is skipped with them",
                        "stage-conditional",
                    )

    def consume_dotenv(self, stages: list[dict[str, Any]]) -> None:
        """Give each dotenv key to the jobs that receive the producer's artifacts.

        GitLab hands a job's artifacts (and dotenv variables) to the jobs that ``needs`` it,
        or, without ``needs``, to every job of a later stage (``dependencies`` narrows that);
        a dotenv variable wins over a variable of the job's own ``variables:``.
        """
        if not self.dotenv:
            return
        stage_of = {job["name"]: st["name"] for st in stages for job in st["jobs"]}
        for st in stages:
            for job in st["jobs"]:
                if "needs" in job:
                    upstream = [n for n in job["needs"] if isinstance(n, str)]
                else:
                    earlier = set(st.get("dependencies", []))
                    upstream = [n for n, s in stage_of.items() if s in earlier]
                narrowed = (job.get("gitlab") or {}).get("dependencies")
                if isinstance(narrowed, list):
                    upstream = [n for n in upstream if n in narrowed]
                for producer in upstream:
                    for key in self.dotenv.get(producer, ()):
                        env = job.setdefault("env", {})
                        env[key] = "${{ needs." + producer + ".outputs." + key + " }}"

    def verbatim_jobs_follow(
        self,
        names: dict[str, str],
        stage_names: list[str],
        stage_ids: dict[str, str],
        jobs: dict[str, list[tuple[str, dict[str, Any]]]],
        stages: list[dict[str, Any]],
    ) -> None:
        """Keep what is kept verbatim consistent with the renamed, regenerated jobs.

        Jobs kept whole in ``config.gitlab`` (trigger jobs...) and job hatches name other
        jobs in ``needs``/``dependencies`` by their native names, which renames change; and
        a verbatim job's stage must still be listed when no neutral job uses it (GitLab
        refuses a job in an unknown stage), so the whole stage order is kept then.
        """
        verbatim = {
            k: v for k, v in self.hatch.items() if k not in GLOBAL_KEYS and isinstance(v, dict)
        }
        hatches = [job["gitlab"] for st in stages for job in st["jobs"] if "gitlab" in job]
        for spec in [*verbatim.values(), *hatches]:
            for key in ("needs", "dependencies"):
                if isinstance(spec.get(key), list):
                    spec[key] = [_renamed(entry, names) for entry in spec[key]]
        used = {stage_ids[s] for s in stage_names if jobs[s]}
        missing = [str(v.get("stage", "test")) for v in verbatim.values()]
        if any(stage not in used for stage in missing if stage not in (".pre", ".post")):
            order = [stage_ids.get(s, s) if jobs.get(s) else s for s in stage_names]
            self.hatch["stages"] = [s for s in order if s not in (".pre", ".post")]
            self.note(
                ("stages",),
                "stages kept verbatim: jobs kept in config.gitlab use stages no neutral job has",
                "stages",
            )

    def pipeline_name(self) -> str:
        stem = Path(self.file).name
        for suffix in (".yml", ".yaml"):
            stem = stem.removesuffix(suffix)
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", stem).strip(".-") or "pipeline"
        return stem[:100]

    def rename_jobs(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        taken: set[str] = set()
        for key in keys:
            name = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:90]
            if not re.match(r"^[A-Za-z_]", name):
                name = f"_{name}"
            if name in GITLAB_RESERVED_JOB_NAMES:
                name = f"{name}_job"
            base, n = name, 2
            while name.casefold() in taken:
                name = f"{base}_{n}"
                n += 1
            taken.add(name.casefold())
            out[key] = name
            if name != key:
                self.note((key,), f'job "{key}" renamed to "{name}"', "job-rename")
        return out

    def rename_stages(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key in keys:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", key)[:100]
            base, n = name, 2
            while name in out.values():
                name = f"{base}_{n}"
                n += 1
            out[key] = name
            if name != key:
                self.note(("stages", key), f'stage "{key}" renamed to "{name}"', "stage-rename")
        return out

    # variables -------------------------------------------------------------------------

    def variables(self, raw: Any, path: tuple[Any, ...]) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(f"{'.'.join(map(str, path))} must be a mapping")
        out: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        for name, value in raw.items():
            plain = value
            if isinstance(value, dict):
                plain = value.get("value", "")
                extra = set(value) - {"value"}
                if extra:
                    kept[name] = value
                    self.note(
                        (*path, name),
                        f"variable {', '.join(sorted(extra))} kept in the escape hatch",
                        "variable-options",
                    )
                    continue
            if plain is None:
                plain = ""
            if isinstance(plain, bool | int | float | str):
                ok = re.match(IDENT_PATTERN, name) and not name.startswith(
                    RESERVED_VARIABLE_PREFIXES
                )
                if ok and len(name) <= 100 and "${{" not in str(plain):
                    out[name] = plain
                    continue
            kept[name] = value
            self.note((*path, name), f'variable "{name}" kept in the escape hatch', "variable")
        if kept:
            if len(path) == 1:
                self.hatch.setdefault("variables", {}).update(kept)
            else:
                self._job_hatch.setdefault("variables", {}).update(kept)
        return out

    # jobs ------------------------------------------------------------------------------

    def job(
        self,
        key: str,
        raw: dict[str, Any],
        default: dict[str, Any],
        names: dict[str, str],
        path: tuple[Any, ...],
    ) -> dict[str, Any]:
        self._job_hatch = {}
        hatch = self._job_hatch
        if key in self.missing_parents:
            hatch["extends"] = self.missing_parents[key]
            self.note(
                (*path, "extends"),
                f"extends {', '.join(self.missing_parents[key])}: not found (in an unread "
                "include?); kept verbatim",
                "extends-unresolved",
            )
        job = dict(raw)
        for name in [k for k, v in job.items() if v is None and k != "script"]:
            # `key:` with nothing unsets what a parent or default gave (GitLab reads it as
            # nil); the schema refuses a null there, so the key is left out.
            del job[name]
            self.note((*path, name), f"{name}: null left out (it unsets the key)", "null")
        inherit = job.pop("inherit", None) or {}
        inherit_default: Any = inherit.get("default", True) if isinstance(inherit, dict) else True
        for dkey, dvalue in default.items():
            allowed = inherit_default is True or (
                isinstance(inherit_default, list) and dkey in inherit_default
            )
            if allowed and dkey not in job:
                job[dkey] = copy.deepcopy(dvalue)
        if isinstance(inherit, dict) and "variables" in inherit:
            hatch["inherit"] = {"variables": inherit["variables"]}
            self.note((*path, "inherit"), "inherit:variables kept verbatim", "inherit")
        out: dict[str, Any] = {"name": names[key]}
        job.pop("stage", None)
        before = [str(x) for x in _flatten(job.pop("before_script", None) or [])]
        script = [str(x) for x in _flatten(job.pop("script", None) or job.pop("run", []))]
        lines = [line for line in before + script if line.strip()]
        lines = self.predefined(lines, path)
        if not lines:
            raise self.fail(f'job "{key}" has an empty script')
        out["steps"] = [{"run": "\n".join(lines)}]
        after = job.pop("after_script", None)
        if after:
            hatch["after_script"] = list(_flatten(after))
            self.note((*path, "after_script"), "after_script has no neutral form", "after-script")
        env = self.variables(job.pop("variables", None), (*path, "variables"))
        env.pop("CICD_JOB", None)
        env.pop("CICD_ENVIRONMENT", None)
        checkout = self.checkout(env)
        if checkout is not None:
            # GitLab clones the repository before every job unless GIT_STRATEGY says not to;
            # a neutral job has sources only after a checkout step.
            out["steps"].insert(0, {"checkout": checkout})
        if env:
            out["env"] = env
        job = self.dotenv_outputs(job, lines, out, path)
        handlers = {
            "image": self.image,
            "services": self.services,
            "tags": self.tags,
            "needs": lambda v, p: self.needs(v, p, names),
            "parallel": self.parallel,
            "allow_failure": self.allow_failure,
            "retry": self.retry,
            "timeout": self.timeout,
            "environment": self.environment,
            "artifacts": self.artifacts,
            "cache": self.cache,
        }
        when_parts: dict[str, Any] = {}
        if "only" in job or "except" in job:
            only, except_ = job.pop("only", None), job.pop("except", None)
            rules = self.legacy(only, except_)
            folded = self.fold_rules(rules) if rules is not None else None
            if folded is None:
                for name, value in (("only", only), ("except", except_)):
                    if value is not None:
                        hatch[name] = value
                        self.note(
                            (*path, name),
                            f"{name} kept verbatim: it does not fold exactly into one neutral "
                            "condition",
                            "only-except",
                        )
            else:
                when_parts.update(folded)
        for name, value in job.items():
            if name in handlers:
                got = handlers[name](value, (*path, name))
                if got is not None:
                    out.update(got)
            elif name == "when":
                if value in ("on_success", "on_failure", "always"):
                    if value != "on_success":
                        when_parts["status"] = value
                else:
                    hatch["when"] = value
                    self.note((*path, "when"), f'when "{value}" has no neutral form', "when")
            elif name == "rules":
                folded = self.fold_rules(value)
                if folded is None:
                    hatch[name] = value
                    self.note(
                        (*path, name),
                        "rules kept verbatim: they do not fold exactly into one neutral condition",
                        "rules",
                    )
                else:
                    when_parts.update(folded)
            elif name == "coverage" and isinstance(value, str) and "\\%" in value:
                # `\%` is a pointless escape that GitLab's Ruby regex accepts but the
                # schema's ECMAScript (unicode) check refuses; `%` matches the same text.
                hatch[name] = value.replace("\\%", "%")
                self.note((*path, name), "coverage regex: `\\%` written as `%`", "coverage")
            else:
                hatch[name] = value
                self.note((*path, name), f'"{name}" has no neutral form; kept verbatim', "hatch")
        if not ({"rules", "only", "except"} & set(raw)) and self.merge_requests():
            # A job without rules or only/except defaults to `only: [branches, tags]`
            # (only/except docs), so it stays out of merge request pipelines, which this
            # workflow admits; an unconditioned neutral job would run in them. The default
            # is spelled as the rule GitLab applies, with the job's own `when`.
            status = when_parts.pop("status", None) or hatch.pop("when", None)
            rule: dict[str, Any] = {"if": "$CI_COMMIT_BRANCH || $CI_COMMIT_TAG"}
            if status not in (None, "on_success"):
                rule["when"] = status
            hatch["rules"] = [rule]
            self.note(
                (*path,),
                "no rules: GitLab leaves the job out of merge request pipelines "
                "(default only: [branches, tags]); kept as that rule",
                "default-only",
            )
        if when_parts:
            out["when"] = when_parts
        if hatch:
            out["gitlab"] = hatch
        return out

    def merge_requests(self) -> bool:
        """True when the pipeline may run for merge requests."""
        if self.space is not None:
            return "pull_request" in self.space
        if "workflow" not in self.hatch:
            return False
        if self.workflow_rules is None:
            return True
        trees = [r.test for r in self.workflow_rules if r.test is not None]
        try:
            envs = _scenarios(trees, 0, [], ("merge_request_event",))
        except _Unsupported:
            return True
        return any(_outcome(self.workflow_rules, env) is not None for env in envs)

    def predefined(self, lines: list[str], path: tuple[Any, ...]) -> list[str]:
        """GitLab's predefined variables in a script, as the neutral facts where exact.

        ``$CI_COMMIT_SHA``, ``$CI_PIPELINE_ID`` and ``$CI_PROJECT_DIR`` become ``$CICD_SHA``,
        ``$CICD_RUN_ID`` and ``$CICD_WORKSPACE``, which every backend sets (GitLab: from
        those very variables). Text in single quotes is the shell's literal and stays. Any
        other ``CI_*``/``GITLAB_*`` variable has no neutral meaning: it is noted, since on
        another provider it is empty.
        """
        out = [rewrite_unquoted(line, _PREDEFINED_RE, _predefined_sub) for line in lines]
        others = sorted(
            {
                m.group(1) or m.group(2)
                for line in out
                for part in re.split(r"'[^']*'", line)
                for m in _GITLAB_VAR_RE.finditer(part)
                if (m.group(1) or m.group(2)) not in self.config_variables
            }
        )
        if others:
            shown = ", ".join(others[:6]) + (", ..." if len(others) > 6 else "")
            self.note(
                (*path, "script"),
                f"the script reads GitLab's predefined variables ({shown}), which other "
                "providers do not set",
                "gitlab-variables",
            )
        return out

    def dotenv_outputs(
        self, job: dict[str, Any], lines: list[str], out: dict[str, Any], path: tuple[Any, ...]
    ) -> dict[str, Any]:
        """An ``artifacts:reports:dotenv`` file as neutral job outputs, when exact.

        GitLab turns each ``KEY=value`` line of the file into a variable of the jobs that
        receive this job's artifacts. The neutral form: a last step appends the file to
        ``$CICD_OUTPUT`` (the same ``KEY=value`` format), the job publishes each key as an
        output, and every job that receives the artifacts gets ``KEY`` in its env from
        ``needs.<job>.outputs.KEY`` (``consume_dotenv``). Exact only when every script line
        that names the file is a recognisable ``echo``/``printf`` of one ``KEY=`` line into
        it, so that the keys are known; otherwise the report stays in the escape hatch.
        """
        artifacts = job.get("artifacts")
        if not isinstance(artifacts, dict) or not isinstance(artifacts.get("reports"), dict):
            return job
        reports: dict[str, Any] = artifacts["reports"]
        dotenv = reports.get("dotenv")
        if isinstance(dotenv, list) and len(dotenv) == 1:
            dotenv = dotenv[0]
        if not isinstance(dotenv, str) or "outputs" in out:
            return job
        keys = _dotenv_keys(lines, dotenv)
        if not keys:
            return job
        rest_reports = {k: v for k, v in reports.items() if k != "dotenv"}
        rest_artifacts = {k: v for k, v in artifacts.items() if k != "reports"}
        if rest_reports:
            rest_artifacts["reports"] = rest_reports
        job = {k: v for k, v in job.items() if k != "artifacts"}
        if rest_artifacts:
            job["artifacts"] = rest_artifacts
        out["steps"].append({"id": "dotenv", "run": f'cat {_sh_word(dotenv)} >> "$CICD_OUTPUT"'})
        out["outputs"] = {k: "${{ steps.dotenv.outputs." + k + " }}" for k in keys}
        self.dotenv[out["name"]] = keys
        self.note(
            (*path, "artifacts", "reports", "dotenv"),
            f"dotenv report became job outputs ({', '.join(keys)}) and the env of the jobs "
            "that receive this job's artifacts",
            "dotenv",
        )
        return job

    def checkout(self, env: dict[str, Any]) -> dict[str, Any] | None:
        """The neutral checkout GitLab's Git variables ask for (job over global), or None
        for GIT_STRATEGY none/empty. GIT_DEPTH and GIT_SUBMODULE_STRATEGY set on the job
        move into the step (the generator writes them back from it)."""

        def effective(name: str) -> str | None:
            value = env.get(name, self.global_variables.get(name))
            return None if value is None else str(value)

        if effective("GIT_STRATEGY") in ("none", "empty"):
            return None
        options: dict[str, Any] = {}
        depth = effective("GIT_DEPTH")
        if depth is not None and depth.isdigit():
            options["depth"] = int(depth)
            env.pop("GIT_DEPTH", None)
        submodules = {"normal": True, "recursive": "recursive", "none": False}.get(
            effective("GIT_SUBMODULE_STRATEGY") or ""
        )
        if submodules is not None:
            if submodules:
                options["submodules"] = submodules
            env.pop("GIT_SUBMODULE_STRATEGY", None)
        return options

    def _keep(self, key: str, value: Any, path: tuple[Any, ...], why: str) -> None:
        self._job_hatch[key] = value
        self.note(path, f"{why}; kept verbatim", key)

    def image(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, str) and value:
            return {"image": value}
        if isinstance(value, dict) and set(value) == {"name"} and value["name"]:
            return {"image": str(value["name"])}
        self._keep("image", value, path, "image options have no neutral form")
        return None

    def services(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        out = []
        for item in value if isinstance(value, list) else [value]:
            entry = {"name": item} if isinstance(item, str) else item
            if not isinstance(entry, dict) or set(entry) - {"name", "alias"}:
                self._keep("services", value, path, "service options have no neutral form")
                return None
            image = str(entry.get("name") or "")
            # GitLab's default alias: the image without tag, "/" as "__" (services docs).
            alias = str(entry.get("alias") or image.split(":")[0].replace("/", "__"))
            alias = alias.split(",")[0]
            if not image or not re.match(JOB_NAME_PATTERN, alias):
                self._keep("services", value, path, f'service alias "{alias}" is not neutral')
                return None
            out.append({"image": image, "alias": alias})
        return {"services": out} if out else None

    def tags(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        tags = [str(t) for t in _flatten(value if isinstance(value, list) else [value]) if t]
        if not tags:
            return None
        return {"runs_on": tags}

    def needs(
        self, value: Any, path: tuple[Any, ...], names: dict[str, str]
    ) -> dict[str, Any] | None:
        if isinstance(value, dict):  # needs: {pipeline: ..., job: ...} forms
            self._keep("needs", value, path, "cross-pipeline needs")
            return {"needs": []}
        out: list[str] = []
        kept: list[Any] = []
        for item in value or []:
            job = item if isinstance(item, str) else None
            if (
                isinstance(item, dict)
                and "job" in item
                and not ({"pipeline", "project"} & set(item))
            ):
                job = str(item["job"])
                if item.get("artifacts") is False or item.get("optional"):
                    self.note(path, f'needs "{job}": artifacts/optional flags not kept', "needs")
            if job is None or job not in names:
                optional = isinstance(item, dict) and item.get("optional") is True
                # "build: [linux, 3.12]" names one instance of a parallel:matrix job.
                base = re.sub(r": \[[^\]]*\]$", "", job) if job is not None else None
                if base is not None and base not in self.doc_jobs and "include" not in self.hatch:
                    if optional:
                        # GitLab ignores an optional need on a job that does not exist.
                        self.note(path, f'optional needs "{job}": no such job', "needs")
                        continue
                    # GitLab refuses the pipeline ("needs ... is not defined").
                    raise self.fail(f'job "{path[0]}" needs unknown job "{job}"')
                kept.append(item)
                continue
            if names[job] not in out:
                out.append(names[job])
        if kept:
            self._keep("needs", value, path, "needs on jobs outside this pipeline model")
        return {"needs": out}

    def parallel(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        entries = value.get("matrix") if isinstance(value, dict) else None
        if not isinstance(entries, list) or not entries:
            self._keep("parallel", value, path, "parallel: N has no neutral form")
            return None
        combos: list[dict[str, Any]] = []
        axes_list = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry:
                self._keep("parallel", value, path, "an unreadable matrix entry")
                return None
            axes = {k: (v if isinstance(v, list) else [v]) for k, v in entry.items()}
            bad = [
                k
                for k in axes
                if not re.match(IDENT_PATTERN, k) or k.startswith(RESERVED_VARIABLE_PREFIXES)
            ]
            vals_ok = all(
                isinstance(x, str | int | float | bool) for vs in axes.values() for x in vs
            )
            if bad or not vals_ok or not all(axes.values()):
                self._keep("parallel", value, path, "matrix axes that are not neutral")
                return None
            axes_list.append(axes)
            for combo in itertools.product(*axes.values()):
                combos.append(dict(zip(axes, combo, strict=True)))
        if len(axes_list) == 1:
            return {"matrix": axes_list[0]}
        return {"matrix": {"include": combos}}

    def allow_failure(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, bool):
            return {"allow_failure": value} if value else None
        self._keep("allow_failure", value, path, "allow_failure:exit_codes")
        return None

    def retry(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        when: Any = ["always"]
        if isinstance(value, dict):
            when = value.get("when", ["always"])
            value = value.get("max", 0)
        when = when if isinstance(when, list) else [when]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 9:
            self._keep("retry", value, path, "unreadable retry")
            return None
        if value == 0:
            return None
        on = sorted({RETRY_REASONS.get(str(w), "") for w in when})
        if "" in on:
            self.note(path, "retry reasons without a neutral name become any", "retry")
            on = ["any"]
        return {"retry_policy": {"max_attempts": value + 1, "on": on}}

    def timeout(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        seconds = _seconds(value)
        if seconds is None or not 0 < seconds <= 7 * 86400:
            self._keep("timeout", value, path, "unreadable timeout")
            return None
        return {"timeout": seconds}

    def environment(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, str) and value:
            return {"environment": value}
        if isinstance(value, dict) and value.get("name"):
            url = value.get("url")
            extra = set(value) - {"name", "url"}
            if not extra and (url is None or re.match(r"^https?://.+", str(url))):
                spec = {"name": str(value["name"])}
                if url:
                    spec["url"] = str(url)
                return {"environment": spec}
        self._keep("environment", value, path, "environment options have no neutral form")
        return None

    def artifacts(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self._keep("artifacts", value, path, "unreadable artifacts")
            return None
        rest = {k: v for k, v in value.items() if k not in ("paths", "expire_in", "when")}
        out: dict[str, Any] = {}
        paths = [str(p) for p in _flatten(value.get("paths") or []) if p]
        expire = _duration(value.get("expire_in"))
        when = value.get("when", "on_success")
        ok = paths and (expire is not None or value.get("expire_in") is None)
        if ok and when in ("on_success", "on_failure", "always"):
            out = {"paths": paths}
            if expire:
                out["expire_in"] = expire
            if when != "on_success":
                out["when"] = when
        else:
            rest = dict(value)
        if rest.get("paths") == []:
            # An empty list is no paths; the schema wants at least one.
            rest = {k: v for k, v in rest.items() if k != "paths"}
            self.note((*path, "paths"), "empty artifacts:paths left out", "artifacts")
        reports = rest.get("reports")
        annotations = reports.get("annotations") if isinstance(reports, dict) else None
        if isinstance(reports, dict) and isinstance(annotations, list) and len(annotations) == 1:
            # The schema takes one annotations path as a string.
            reports = {**reports, "annotations": annotations[0]}
            rest = {**rest, "reports": reports}
        if isinstance(reports, dict) and {"cobertura", "performance"} & set(reports):
            # Removed report names (GitLab 15.0 and 16.0) that the schema refuses; these
            # are their documented replacements.
            reports = dict(reports)
            for name in ("cobertura", "performance"):
                if isinstance(reports.get(name), list) and len(reports[name]) == 1:
                    reports[name] = reports[name][0]  # one path: the new keys take a string
            if isinstance(reports.get("cobertura"), str | list):
                cobertura = reports.pop("cobertura")
                reports["coverage_report"] = {"coverage_format": "cobertura", "path": cobertura}
                self.note((*path, "reports"), "cobertura report as coverage_report", "reports")
            if "performance" in reports:
                reports["browser_performance"] = reports.pop("performance")
                self.note((*path, "reports"), "performance report renamed", "reports")
            rest = {**rest, "reports": reports}
        if rest:
            if "dotenv" in (rest.get("reports") or {}):
                self.note(
                    path,
                    "dotenv report kept verbatim: the script's writes to it are not all "
                    "plain KEY= lines, so its keys are unknown",
                    "dotenv",
                )
            self._keep("artifacts", rest, path, "artifacts options have no neutral form")
        return {"artifacts": out} if out else None

    def cache(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, list):
            # A list alias inside the list (`cache: [*caches]`) nests it; GitLab flattens
            # nested arrays in configuration, the schema does not take them.
            value = _flatten(value)
            if len(value) == 1:
                value = value[0]
        if isinstance(value, dict) and set(value) <= {"key", "paths", "policy"}:
            key = _files_key(value.get("key", "default"))
            paths = [str(p) for p in _flatten(value.get("paths") or []) if p]
            policy = value.get("policy", "pull-push")
            known = policy in ("pull-push", "pull", "push")
            if isinstance(key, str | int) and str(key) and paths and known:
                out: dict[str, Any] = {"key": str(key), "paths": paths}
                if policy != "pull-push":
                    out["policy"] = policy
                return {"cache": out}
        self._keep("cache", value, path, "cache options have no neutral form")
        return None

    # conditions ------------------------------------------------------------------------

    def workflow(self, value: Any) -> dict[str, Any] | None:
        """``workflow:rules`` as neutral triggers when they fold exactly, else None."""
        if not isinstance(value, dict) or set(value) != {"rules"}:
            return None
        try:
            rules = _read_rules(value["rules"], [])
            if any(r.changes is not None for r in rules):
                raise _Unsupported("changes")
            conjunctions = [
                conj
                for r in rules
                if r.when != "never"
                for conj in (_dnf(r.test) if r.test else [[]])
            ]
            if any(r.when not in ("always", "on_success", "never") for r in rules):
                raise _Unsupported("when")
            triggers = _workflow_triggers(conjunctions)
            if not triggers:
                raise _Unsupported("no pipeline")
            globs = [
                g for t in triggers.values() for k in ("branches", "tags") for g in (t.get(k) or [])
            ]
            trees = [r.test for r in rules if r.test is not None]
            exotic = False
            for env in _scenarios(trees, 0, globs):
                want = _outcome(rules, env) is not None
                if env[_SOURCE] == "trigger":
                    exotic = exotic or want
                    continue
                if want != _triggers_hold(triggers, env):
                    raise _Unsupported("not exact")
        except _Unsupported:
            self.workflow_rules = _try_rules(value.get("rules"))
            return None
        if exotic:
            self.note(
                ("workflow", "rules"),
                "pipelines started by triggers, other pipelines or chat have no neutral "
                "trigger; they do not run",
                "workflow-sources",
            )
        self.space = triggers
        return triggers

    def runs(self, env: dict[str, Any]) -> bool:
        """True when the pipeline exists for these CI facts (a job's rules matter then)."""
        if self.space is not None:
            return _triggers_hold(self.space, env)
        if self.workflow_rules is not None:
            return _outcome(self.workflow_rules, env) is not None
        # workflow:rules kept verbatim but unreadable here (a regex, say): any pipeline may
        # run, so a job's condition must be exact on all of them.
        return True

    def fold_rules(self, raw: Any) -> dict[str, Any] | None:
        """A job's ``rules`` as one neutral ``when`` when exact; None otherwise."""
        try:
            lists: list[list[str]] = []
            rules = _read_rules(raw, lists)
            positives = [r for r in rules if r.when != "never"]
            statuses = {r.when for r in positives}
            if len(statuses) != 1 or not statuses <= {"on_success", "always", "on_failure"}:
                raise _Unsupported("when")
            status = statuses.pop()
            changes = {r.changes for r in positives}
            if len(changes) != 1:
                raise _Unsupported("changes")
            paths = changes.pop()
            parts = [
                _when_parts(conj)
                for rule in positives
                for conj in (_dnf(rule.test) if rule.test is not None else [[]])
            ]
            # A test with no neutral form may still be constant on the pipelines that run
            # (`$CI_PIPELINE_SOURCE != "schedule"` when only pushes start one): then no
            # filter, or a ref filter, is the candidate the scenarios confirm or refute.
            when = _merge_parts(parts) if None not in parts else {}
            if when is None:
                raise _Unsupported("alternatives")
            # The model takes variable conditions on config variables only (when-variables).
            if set(when.get("variables", {})) - self.config_variables:
                raise _Unsupported("variables")
            globs = [g for k in ("branches", "tags") for g in when.get(k, [])]
            trees = [r.test for r in rules if r.test is not None]
            trees += [r.test for r in self.workflow_rules or [] if r.test is not None]
            envs = [e for e in _scenarios([*trees], len(lists), [*globs, "**"]) if self.runs(e)]
            wanted = [_outcome(rules, env) for env in envs]
            for candidate in _variants(when):
                got = [
                    status
                    if _neutral_filters_hold(candidate, env)
                    and (paths is None or bool(env[f"changes#{paths}"]))
                    else None
                    for env in envs
                ]
                if got == wanted:
                    when = candidate
                    break
            else:
                raise _Unsupported("not exact")
        except _Unsupported:
            return None
        if paths is not None:
            when["paths"] = lists[paths]
        if status != "on_success":
            when["status"] = status
        return when

    def legacy(self, only: Any, except_: Any) -> list[dict[str, Any]] | None:
        """``only``/``except`` as the equivalent ``rules`` list, or None when unreadable."""
        out: list[dict[str, Any]] = []
        for value, when in ((except_, "never"), (only, "on_success")):
            if value is None:
                if when == "on_success":
                    # The default: `only: [branches, tags]` (only/except docs).
                    out.append({"if": "$CI_COMMIT_BRANCH || $CI_COMMIT_TAG"})
                continue
            spec = value if isinstance(value, dict) else {"refs": value}
            if set(spec) - {"refs", "variables", "changes"}:
                return None
            tests = []
            if "refs" in spec:
                test = _refs_test(spec["refs"])
                if test is None:
                    return None
                tests.append(test)
            if "variables" in spec:
                exprs = spec["variables"]
                exprs = exprs if isinstance(exprs, list) else [exprs]
                if not exprs or not all(isinstance(e, str) for e in exprs):
                    return None
                tests.append(" || ".join(f"({e})" for e in exprs))
            rule: dict[str, Any] = {}
            if tests:
                rule["if"] = " && ".join(f"({t})" for t in tests)
            if "changes" in spec:
                rule["changes"] = spec["changes"]
            if when == "never":
                rule["when"] = "never"
            out.append(rule)
        return out


# --- rules:if expressions and exact folding ------------------------------------------
#
# GitLab evaluates `rules` top to bottom: the first rule whose `if`/`changes` hold decides
# (`when: never` leaves the job out); no match leaves it out too (rules docs). Neutral
# conditions are one `when` per job and one `triggers` set per pipeline. A fold is accepted
# only when it is *exact*: the original rules and the neutral form, read the way the GitLab
# generator writes it back (translators.gitlab `_filter_tests`, `_workflow_rules`), give
# the same outcome in every scenario of a finite set that covers every literal the rules
# compare against plus an unnamed value. Equality tests only distinguish the values they
# name, so such a set decides them; anything else (regular expressions that are not
# globs, `exists`, rule `variables`) is not folded.

_SOURCE = "CI_PIPELINE_SOURCE"
_BRANCH = "CI_COMMIT_BRANCH"
_TAG = "CI_COMMIT_TAG"
_REF = "CI_COMMIT_REF_NAME"
_MR_SOURCE = "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"
_MR_TARGET = "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
_MR_IID = "CI_MERGE_REQUEST_IID"
_REF_VARS = frozenset({_BRANCH, _TAG, _REF, _MR_SOURCE, _MR_TARGET})
_EVENT_VARS = _REF_VARS | {_SOURCE, _MR_IID}
_SOURCES = ("push", "merge_request_event", "schedule", "web", "api", "trigger")
_MAX_SCENARIOS = 20000
_TOKEN = re.compile(
    r"\s*(?:(?P<op>&&|\|\||==|!=|=~|!~|\(|\))|\$\{?(?P<var>[A-Za-z_][A-Za-z0-9_]*)\}?"
    r"|\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<re>/(?:\\.|[^/\\])*/[a-z]*)|(?P<null>null)\b)"
)


@dataclass(frozen=True)
class _Atom:
    """``$VAR`` (``op`` empty), or ``$VAR op value``; ``value`` is a str, a ``_Var``,
    a ``_Regex`` or ``None`` (``null``)."""

    var: str
    op: str = ""
    value: Any = None


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class _Regex:
    source: str  # /body/flags as written
    glob: str | None  # the neutral glob it equals, when it is one (see _regex_glob)


class _Unsupported(Exception):
    """An expression or rule outside what the exact folding reads."""


def _parse_if(text: str) -> Any:
    """A ``rules:if`` expression as nested ``("or"|"and", [...])`` tuples over atoms."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unsupported(text)
        pos = m.end()
        if m.group("op"):
            tokens.append(("op", m.group("op")))
        elif m.group("var"):
            tokens.append(("val", _Var(m.group("var"))))
        elif m.group("dq") is not None or m.group("sq") is not None:
            tokens.append(("val", m.group("dq") if m.group("dq") is not None else m.group("sq")))
        elif m.group("re"):
            tokens.append(("val", _Regex(m.group("re"), _regex_glob(m.group("re")))))
        else:
            tokens.append(("val", None))
        if pos < len(text) and text[pos:].strip() == "":
            break
    at = 0

    def peek() -> tuple[str, Any] | None:
        return tokens[at] if at < len(tokens) else None

    def take() -> tuple[str, Any]:
        nonlocal at
        if at >= len(tokens):
            raise _Unsupported(text)
        at += 1
        return tokens[at - 1]

    def expr(kind: str) -> Any:
        sub = "and" if kind == "or" else "primary"
        parts = [expr(sub) if sub == "and" else primary()]
        sep = "||" if kind == "or" else "&&"
        while peek() == ("op", sep):
            take()
            parts.append(expr(sub) if sub == "and" else primary())
        return parts[0] if len(parts) == 1 else (kind, parts)

    def primary() -> Any:
        kind, value = take()
        if (kind, value) == ("op", "("):
            inner = expr("or")
            if take() != ("op", ")"):
                raise _Unsupported(text)
            return inner
        if kind != "val" or not isinstance(value, _Var):
            raise _Unsupported(text)
        nxt = peek()
        if nxt and nxt[0] == "op" and nxt[1] in ("==", "!=", "=~", "!~"):
            take()
            vkind, other = take()
            if vkind != "val":
                raise _Unsupported(text)
            if nxt[1] in ("=~", "!~") and not isinstance(other, _Regex):
                raise _Unsupported(text)
            return _Atom(value.name, nxt[1], other)
        return _Atom(value.name)

    tree = expr("or")
    if at != len(tokens):
        raise _Unsupported(text)
    return tree


def _regex_glob(source: str) -> str | None:
    """The glob that ``translators.gitlab.glob_regex`` writes as this regex, if any."""
    m = re.fullmatch(r"/\^(.*)\$/", source)
    if not m:
        return None
    body = m.group(1).replace(r"\/", "/")
    out, i = [], 0
    while i < len(body):
        for regex, glob in ((".*", "**"), ("[^/]*", "*"), ("[^/]", "?")):
            if body.startswith(regex, i):
                out.append(glob)
                i += len(regex)
                break
        else:
            if body[i] == "\\" and i + 1 < len(body) and not body[i + 1].isalnum():
                out.append(body[i + 1])
                i += 2
            elif body[i].isalnum() or body[i] in "-_/@,:=%~":
                out.append(body[i])
                i += 1
            else:
                return None
    return "".join(out)


def _glob_match(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    return re.fullmatch(glob_regex(pattern)[2:-2].replace(r"\/", "/"), value) is not None


def _atoms(tree: Any) -> list[_Atom]:
    if isinstance(tree, _Atom):
        return [tree]
    return [a for part in tree[1] for a in _atoms(part)]


def _eval(tree: Any, env: dict[str, Any]) -> bool:
    if isinstance(tree, tuple):
        results = (_eval(part, env) for part in tree[1])
        return any(results) if tree[0] == "or" else all(results)
    value = env.get(tree.var)
    if tree.op == "":
        return value not in (None, "")
    if tree.op in ("=~", "!~"):
        regex = tree.value
        if regex.glob is not None:
            hit = _glob_match(regex.glob, value)
        else:
            body, _, flags = regex.source[1:].rpartition("/")
            try:
                found = re.search(body, value or "", re.I if "i" in flags else 0)
            except re.error:
                raise _Unsupported(regex.source) from None
            hit = value is not None and found is not None
        return hit if tree.op == "=~" else not hit
    other = env.get(tree.value.name) if isinstance(tree.value, _Var) else tree.value
    # GitLab compares an unset variable as null and a set one by its string value.
    same = value == other if other is not None else value is None
    return same if tree.op == "==" else not same


def _dnf(tree: Any) -> list[list[_Atom]]:
    """The expression as an OR of ANDs of atoms (bounded: raises when it grows too big)."""
    if isinstance(tree, _Atom):
        return [[tree]]
    parts = [_dnf(p) for p in tree[1]]
    if tree[0] == "or":
        return [c for p in parts for c in p]
    out: list[list[_Atom]] = [[]]
    for p in parts:
        out = [a + b for a in out for b in p]
        if len(out) > 64:
            raise _Unsupported("too many alternatives")
    return out


@dataclass
class _Rule:
    test: Any  # parsed `if`, or None
    changes: int | None  # index of its `changes` list, or None
    when: str


def _read_rules(rules: Any, changes_lists: list[list[str]]) -> list[_Rule]:
    if not isinstance(rules, list) or not rules:
        raise _Unsupported("rules")
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or set(rule) - {"if", "changes", "when"}:
            raise _Unsupported("rule keys")
        test = rule.get("if")
        if test is not None and not isinstance(test, str):
            raise _Unsupported("if")
        changes = rule.get("changes")
        index = None
        if changes is not None:
            if isinstance(changes, dict) and set(changes) == {"paths"}:
                changes = changes["paths"]
            if not isinstance(changes, list) or not all(isinstance(c, str) and c for c in changes):
                raise _Unsupported("changes")
            if changes and changes not in changes_lists:
                changes_lists.append(changes)
            index = changes_lists.index(changes) if changes else None
        when = rule.get("when", "on_success")
        if not isinstance(when, str):
            raise _Unsupported("when")
        out.append(_Rule(_parse_if(test) if test else None, index, when))
    return out


def _outcome(rules: list[_Rule], env: dict[str, Any]) -> str | None:
    for rule in rules:
        if rule.test is not None and not _eval(rule.test, env):
            continue
        if rule.changes is not None and not env.get(f"changes#{rule.changes}"):
            continue
        return None if rule.when == "never" else rule.when
    return None


def _events(refs: list[str], sources: tuple[str, ...] = _SOURCES) -> Iterator[dict[str, Any]]:
    """The CI facts of each kind of pipeline, on each ref value."""
    for source in sources:
        if source == "merge_request_event":
            for src in refs:
                for target in refs:
                    yield {
                        _SOURCE: source,
                        _MR_SOURCE: src,
                        _MR_TARGET: target,
                        _REF: src,
                        _MR_IID: "1",
                    }
            continue
        for ref in refs:
            yield {_SOURCE: source, _BRANCH: ref, _REF: ref}
            if source in ("push", "web", "api"):
                yield {_SOURCE: source, _TAG: ref, _REF: ref}


def _scenarios(
    trees: list[Any], n_changes: int, globs: list[str], sources: tuple[str, ...] = _SOURCES
) -> list[dict[str, Any]]:
    """Every combination of event, ref and user variable values that the tests tell apart."""
    refs: set[str] = {"zz-other", "zz/other"}
    user: dict[str, set[Any]] = {}
    linked: set[str] = set()
    for atom in (a for t in trees for a in _atoms(t)):
        literal = atom.value if isinstance(atom.value, str) else None
        if isinstance(atom.value, _Regex):
            if atom.value.glob is None:
                raise _Unsupported(atom.value.source)
            globs = [*globs, atom.value.glob]
        if atom.var in _REF_VARS:
            if literal is not None:
                refs.add(literal)
        elif atom.var not in _EVENT_VARS:
            values = user.setdefault(atom.var, {None, "", "zz-other"})
            if literal is not None:
                values.add(literal)
        if isinstance(atom.value, _Var):
            # `$A == $B`: either may hold any ref value, the other's value, or nothing.
            linked.update(n for n in (atom.var, atom.value.name) if n not in _EVENT_VARS)
    for glob in globs:
        refs.add(glob.replace("**", "x/y").replace("*", "x").replace("?", "x"))
    for name in linked:
        user.setdefault(name, {None, "", "zz-other"}).update(refs)
    base = list(_events(sorted(refs), sources))
    names = sorted(user)
    combos = 1
    for name in names:
        combos *= len(user[name])
    if len(base) * combos * (2**n_changes) > _MAX_SCENARIOS:
        raise _Unsupported("too many scenarios")
    out = []
    for event in base:
        for combo in itertools.product(*(sorted(user[n], key=str) for n in names)):
            for flags in itertools.product((False, True), repeat=n_changes):
                env = dict(event)
                env.update((n, v) for n, v in zip(names, combo, strict=True) if v is not None)
                env.update((f"changes#{i}", f) for i, f in enumerate(flags))
                out.append(env)
    return out


def _neutral_filters_hold(when: dict[str, Any], env: dict[str, Any]) -> bool:
    """A neutral ``when``'s filters, as translators.gitlab writes them as ``rules:if``."""
    refs = [
        *(
            _glob_match(b, env.get(_BRANCH)) or _glob_match(b, env.get(_MR_SOURCE))
            for b in when.get("branches") or ()
        ),
        *(_glob_match(t, env.get(_TAG)) for t in when.get("tags") or ()),
    ]
    if refs and not any(refs):
        return False
    events = when.get("events")
    if events and _EVENT_OF.get(env.get(_SOURCE, "")) not in events:
        return False
    variables = when.get("variables") or {}
    return all(env.get(name) == value for name, value in variables.items())


_EVENT_OF = {**EVENTS}


def _when_parts(conjunction: list[_Atom]) -> dict[str, Any] | None:
    """The neutral ``when`` filters an AND of atoms reads as, or None."""
    out: dict[str, Any] = {}

    def add(key: str, value: str) -> None:
        out.setdefault(key, [])
        if value not in out[key]:
            out[key].append(value)

    for atom in conjunction:
        literal = atom.value if isinstance(atom.value, str) else None
        glob = atom.value.glob if isinstance(atom.value, _Regex) else None
        pattern = literal if atom.op == "==" else glob if atom.op == "=~" else None
        if atom.var in (_BRANCH, _REF, _MR_SOURCE) and pattern:
            add("branches", pattern)
        elif atom.var == _BRANCH and (atom.op == "" or (atom.op == "!=" and atom.value is None)):
            add("branches", "**")
        elif atom.var == _TAG and (atom.op == "" or (atom.op == "!=" and atom.value is None)):
            add("tags", "**")
        elif atom.var == _TAG and pattern:
            add("tags", pattern)
        elif atom.var == _SOURCE and atom.op == "==" and literal in EVENTS:
            add("events", EVENTS[literal])
        elif (
            atom.op == "=="
            and literal is not None
            and re.match(IDENT_PATTERN, atom.var)
            and not atom.var.startswith(RESERVED_VARIABLE_PREFIXES)
        ):
            out.setdefault("variables", {})[atom.var] = literal
        else:
            return None
    return out


def _variants(when: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``when`` and near variants: ``when: never`` guards narrow what the others accept
    (``if: $CI_COMMIT_TAG, when: never`` then ``when: on_success`` is "every branch")."""
    yield when
    for key in ("branches", "tags", "events"):
        values = when.get(key) or []
        other = {"branches": "tags", "tags": "branches"}.get(key, "")
        for value in values if len(values) > 1 or key == "events" or other in when else []:
            rest = [v for v in values if v != value]
            yield {**when, key: rest} if rest else {k: v for k, v in when.items() if k != key}
    if "branches" not in when and "tags" not in when:
        yield {**when, "branches": ["**"]}
        yield {**when, "tags": ["**"]}


def _merge_parts(parts: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Alternatives that differ only in their refs (or only in events) as one ``when``."""
    if not all(parts):
        return {} if all(p is not None for p in parts) and not any(parts) else None
    merged = dict(parts[0] or {})
    for part in [p for p in parts[1:] if p is not None]:
        rest = {k: v for k, v in part.items() if k not in ("branches", "tags")}
        mine = {k: v for k, v in merged.items() if k not in ("branches", "tags")}
        if rest == mine and ("branches" in part or "tags" in part) == (
            "branches" in merged or "tags" in merged
        ):
            for key in ("branches", "tags"):
                for value in part.get(key, []):
                    merged.setdefault(key, [])
                    if value not in merged[key]:
                        merged[key].append(value)
            continue
        rest = {k: v for k, v in part.items() if k != "events"}
        mine = {k: v for k, v in merged.items() if k != "events"}
        if rest == mine and "events" in part and "events" in merged:
            merged["events"] = list(dict.fromkeys([*merged["events"], *part["events"]]))
            continue
        return None
    return merged


def _try_rules(raw: Any) -> list[_Rule] | None:
    try:
        rules = _read_rules(raw, [])
    except _Unsupported:
        return None
    return None if any(r.changes is not None for r in rules) else rules


_LEGACY_SOURCES = {
    "api": "api",
    "chat": "chat",
    "external": "external",
    "external_pull_requests": "external_pull_request_event",
    "merge_requests": "merge_request_event",
    "pipelines": "pipeline",
    "pushes": "push",
    "schedules": "schedule",
    "triggers": "trigger",
    "web": "web",
}


def _refs_test(refs: Any) -> str | None:
    """``only:refs`` as a ``rules:if`` expression (refs are ORed)."""
    refs = refs if isinstance(refs, list) else [refs]
    tests = []
    for ref in refs:
        if not isinstance(ref, str) or not ref or "@" in ref:
            return None
        if ref == "branches":
            tests.append("$CI_COMMIT_BRANCH")
        elif ref == "tags":
            tests.append("$CI_COMMIT_TAG")
        elif ref in _LEGACY_SOURCES:
            tests.append(f'$CI_PIPELINE_SOURCE == "{_LEGACY_SOURCES[ref]}"')
        elif ref.startswith("/") and ref.rstrip("i").endswith("/") and len(ref) > 2:
            tests.append(f"$CI_COMMIT_BRANCH =~ {ref}")
        elif '"' not in ref:
            # A branch name. GitLab also matches a tag of that name; a tag named like a
            # branch is rare enough that the neutral branch filter stands for it.
            tests.append(f'$CI_COMMIT_BRANCH == "{ref}"')
        else:
            return None
    return " || ".join(tests) if tests else None


def _triggers_hold(triggers: dict[str, Any], env: dict[str, Any]) -> bool:
    """Neutral triggers, as translators.gitlab writes them as ``workflow:rules``."""
    source = env.get(_SOURCE)
    push = triggers.get("push")
    if source == "push" and push is not None:
        branches, tags = push.get("branches"), push.get("tags")
        if branches is None and tags is None:
            return True
        if any(_glob_match(b, env.get(_BRANCH)) for b in branches or ()):
            return True
        if any(_glob_match(t, env.get(_TAG)) for t in tags or ()):
            return True
    pull = triggers.get("pull_request")
    if source == "merge_request_event" and pull is not None:
        targets = pull.get("branches")
        if targets is None or any(_glob_match(b, env.get(_MR_TARGET)) for b in targets):
            return True
    return source in ("web", "api") and triggers.get("manual") is not None


def _workflow_triggers(conjunctions: list[list[_Atom]]) -> dict[str, Any]:
    """A first guess at the neutral triggers for the accepting alternatives of a workflow."""
    triggers: dict[str, Any] = {}
    for conj in conjunctions:
        sources = {a.value for a in conj if a.var == _SOURCE and a.op == "=="}
        rest = [a for a in conj if not (a.var == _SOURCE and a.op == "==")]
        if len(sources) > 1:
            raise _Unsupported("two sources")
        source = sources.pop() if sources else "push"
        if source in ("web", "api"):
            if rest:
                raise _Unsupported("manual with filters")
            triggers["manual"] = {}
            continue
        if source == "merge_request_event":
            targets = [a.value for a in rest if a.var == _MR_TARGET and a.op == "=="]
            if len(targets) != len(rest):
                raise _Unsupported("merge request filters")
            pull = triggers.setdefault("pull_request", {})
            if not targets:
                pull["branches"] = None
            elif "branches" not in pull or pull["branches"] is not None:
                pull["branches"] = [*(pull.get("branches") or []), *targets]
            continue
        if source != "push":
            raise _Unsupported(f"source {source}")
        parts = _when_parts(rest)
        if parts is None or set(parts) - {"branches", "tags"}:
            raise _Unsupported("push filters")
        push = triggers.setdefault("push", {})
        if not parts:
            push["any"] = True
        for key in ("branches", "tags"):
            for value in parts.get(key, []):
                push.setdefault(key, [])
                if value not in push[key]:
                    push[key].append(value)
    if "push" in triggers and triggers["push"].pop("any", False):
        triggers["push"] = {}
    if "pull_request" in triggers and triggers["pull_request"].get("branches") is None:
        triggers["pull_request"] = {}
    return triggers


def _files_key(key: Any) -> Any:
    """``key: {files, prefix}`` as the neutral ``prefix-${{ hash('f') }}`` key.

    GitLab hashes at most two files into the key after the prefix (cache:key:files), which
    is what translators.gitlab writes for a key with one ``hash()``; other keys are unchanged.
    """
    if not isinstance(key, dict) or not set(key) <= {"files", "prefix"}:
        return key
    files, prefix = key.get("files"), key.get("prefix")
    if (
        not isinstance(files, list)
        or not 1 <= len(files) <= 2
        or not all(isinstance(f, str) and f and "'" not in f and "$" not in f for f in files)
        or not (prefix is None or (isinstance(prefix, str) and "$" not in prefix))
    ):
        return key
    call = "${{ hash(" + ", ".join(f"'{f}'" for f in files) + ") }}"
    return f"{prefix}-{call}" if prefix else call


def _is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


_DOTENV_WRITE = re.compile(
    r"""^\s*(?:echo|printf)\s+(?P<q>["']?)(?P<key>[A-Za-z_][A-Za-z0-9_]*)=[^"'>]*(?P=q)"""
    r"""(?:\s+|\\n)*\s*>>?\s*["']?(?P<file>[^\s"';&|]+)["']?\s*$"""
)


# GitLab predefined variables with an exact neutral fact (the CICD_* environment).
_PREDEFINED = {"CI_COMMIT_SHA": "CICD_SHA", "CI_PIPELINE_ID": "CICD_RUN_ID"}
_PREDEFINED["CI_PROJECT_DIR"] = "CICD_WORKSPACE"
_PREDEFINED_RE = re.compile(
    r"\$(?:\{(" + "|".join(_PREDEFINED) + r")\}|(" + "|".join(_PREDEFINED) + r")(?!\w))"
)
_GITLAB_VAR_RE = re.compile(r"\$(?:\{((?:CI|GITLAB)_\w+)\}|((?:CI|GITLAB)_\w+))")


def _predefined_sub(m: re.Match[str]) -> str:
    name = m.group(1) or m.group(2)
    return "${" + _PREDEFINED[name] + "}" if m.group(1) else "$" + _PREDEFINED[name]


def _dotenv_keys(lines: list[str], file: str) -> list[str]:
    """The keys script ``lines`` write into the dotenv ``file``; [] when not all are known."""
    keys: list[str] = []
    for line in lines:
        if file not in line:
            continue
        match = _DOTENV_WRITE.match(line)
        if not match or match["file"] != file:
            return []
        if match["key"] not in keys:
            keys.append(match["key"])
    return keys


def _sh_word(text: str) -> str:
    return (
        text if re.fullmatch(r"[A-Za-z0-9_./-]+", text) else "'" + text.replace("'", "'\\''") + "'"
    )


def _names(stage: dict[str, Any]) -> list[str]:
    return [job["name"] for job in stage["jobs"]]


def _condition_of(job: dict[str, Any]) -> str:
    """A job's run condition as text ('' when it runs whenever the pipeline runs)."""
    when = {k: v for k, v in (job.get("when") or {}).items() if k != "status"}
    hatch = job.get("gitlab") or {}
    native = {k: hatch[k] for k in ("rules", "only", "except") if k in hatch}
    return repr((sorted(when.items()), sorted(native.items()))) if when or native else ""


def _renamed(entry: Any, names: dict[str, str]) -> Any:
    """A ``needs``/``dependencies`` entry with the job's neutral name."""
    if isinstance(entry, str):
        return names.get(entry, entry)
    if isinstance(entry, dict) and isinstance(entry.get("job"), str):
        return {**entry, "job": names.get(entry["job"], entry["job"])}
    return entry


def _mentions_merge_requests(doc: dict[str, Any]) -> bool:
    """True when a job's rules, only or except name merge requests (their pipelines exist)."""
    for key, job in doc.items():
        if key in GLOBAL_KEYS or not isinstance(job, dict):
            continue
        for name in ("rules", "only", "except"):
            if "merge_request" in repr(job.get(name)):
                return True
    return False


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for v in value for x in _flatten(v)]
    return [] if value is None else [value]


def _seconds(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    total = 0
    parts = re.findall(r"(\d+)\s*([A-Za-z]+)", value)
    if not parts or re.sub(r"(\d+)\s*([A-Za-z]+)|\s|and|,", "", value):
        return None
    for number, unit in parts:
        if unit.lower() not in _DURATION_WORDS:
            return None
        total += int(number) * _DURATION_WORDS[unit.lower()]
    return total


def _duration(value: Any) -> str | None:
    """GitLab's ``expire_in`` as a neutral ``Duration`` (``7d``), when it is one exactly."""
    seconds = _seconds(value)
    if not seconds:
        return None
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return None


def import_gitlab(
    text: str,
    name: str,
    *,
    base_dir: Path | None = None,
    include_resolver: Callable[[str], str | None] | None = None,
) -> ImportResult:
    """Read GitLab CI YAML text into neutral pipeline file data.

    Args:
        text: the content of a ``.gitlab-ci.yml``.
        name: the file name, used in messages and for the pipeline name.
        base_dir: the repository root that local includes are relative to; without it,
            local includes are kept in ``config.gitlab.include`` with a note.
        include_resolver: the text of a local include by its path relative to the
            repository root (no leading ``/``), or ``None`` when it is not available (the
            include is then kept in ``config.gitlab.include`` with a note). Used instead of
            ``base_dir`` when given; glob includes cannot be resolved through it.

    Raises:
        GitLabImportError: when the file cannot become a valid neutral pipeline.
    """
    from ..model.loader import pipeline_from_data

    importer = _Importer(name, base_dir, include_resolver)
    try:
        data = importer.run(text)
    except RecursionError:
        raise GitLabImportError(name, "the file nests too deeply") from None
    try:
        pipeline = pipeline_from_data(data)
    except ValueError as exc:
        first = str(exc).strip().splitlines()
        reason = first[0] if first else "invalid"
        raise GitLabImportError(name, f"the imported pipeline is not valid: {reason}") from None
    tree = importer.trees[0] if importer.trees else None
    return ImportResult(data, importer.notes, tree, pipeline)
