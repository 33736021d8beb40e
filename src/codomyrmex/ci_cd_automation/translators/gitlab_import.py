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

Not built yet (issue 3): source positions in notes (notes carry model paths only),
``workflow:rules`` to neutral triggers (kept in the escape hatch), ``rules`` with more than
one entry, ``except``, ``cache:key:files``.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..model.loader import plain_scalar
from ..model.pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    IDENT_PATTERN,
    JOB_NAME_PATTERN,
    RESERVED_VARIABLE_PREFIXES,
)
from .gitlab import PRELUDE, RETRY_WHEN
from .merge import deep_merge

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
_ATOM_BRANCH = re.compile(r'^\$CI_COMMIT_BRANCH\s*==\s*["\']([^"\']+)["\']$')
_ATOM_REF = re.compile(r'^\$CI_COMMIT_REF_NAME\s*==\s*["\']([^"\']+)["\']$')
_ATOM_SOURCE = re.compile(r'^\$CI_PIPELINE_SOURCE\s*==\s*["\']([^"\']+)["\']$')
_ATOM_TAG = re.compile(r"^\$CI_COMMIT_TAG$")
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


# --- reading YAML ---------------------------------------------------------------------


def _parse(text: str, file: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        docs = list(yaml.load_all(text))
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
    def __init__(self, name: str, base_dir: Path | None) -> None:
        self.file = name
        self.base_dir = base_dir
        self.notes: list[Note] = []
        self.hatch: dict[str, Any] = {}
        self.missing_parents: dict[str, list[str]] = {}
        self._job_hatch: dict[str, Any] = {}

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
        for entry in entries:
            local = None
            if isinstance(entry, str) and "://" not in entry:
                local = entry
            elif isinstance(entry, dict) and set(entry) <= {"local", "rules", "inputs"}:
                local = entry.get("local")
                if "rules" in entry or "inputs" in entry:
                    self.note(("include",), "include rules and inputs are ignored", "include")
            if not isinstance(local, str) or self.base_dir is None:
                why = (
                    "no base folder was given to resolve it"
                    if isinstance(local, str)
                    else "remote, project, template and component includes cannot be read offline"
                )
                self.note(("include",), f"include kept as is: {why}", "include-unresolved")
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
                sub = _parse(text, key)
                if sub is None:
                    continue
                if not isinstance(sub, dict):
                    raise self.fail(f'include "{local}" is not a mapping')
                merged = deep_merge(merged, self.includes(sub, depth + 1, (*seen, key)))
        # The including file's own keys win over what it includes (GitLab "include").
        return dict(deep_merge(merged, doc))

    def _local_paths(self, local: str) -> list[Path]:
        assert self.base_dir is not None
        rel = local.lstrip("/")
        if any(c in rel for c in "*?["):
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
        doc = _parse(text, self.file)
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
        variables = self.variables(doc.get("variables"), ("config", "variables"))
        for key in ("CICD_PIPELINE", "CICD_SHA", "CICD_RUN_ID", "CICD_WORKSPACE"):
            variables.pop(key, None)  # set by our generator, not user content
        if variables:
            config["variables"] = variables
        if "workflow" in doc:
            self.hatch["workflow"] = doc["workflow"]
            self.note(
                ("config", "gitlab", "workflow"),
                "workflow is kept verbatim: its rules are not converted to triggers yet",
                "workflow-rules",
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
                self.hatch[key] = value
                why = "a trigger job" if "trigger" in value else "a job without script"
                self.note(
                    ("config", "gitlab", key),
                    f"{why} has no neutral form; kept verbatim in config.gitlab",
                    "trigger",
                )
                continue
            stage = str(value.get("stage", "test"))
            if stage not in jobs and "include" in self.hatch:
                self.note(
                    ("jobs", key, "stage"),
                    f'stage "{stage}" is not listed (perhaps in an unread include); added last',
                    "stage-unknown",
                )
                jobs[stage] = []
                stage_names.insert(len(stage_names) - 1, stage)
            if stage not in jobs:
                raise self.fail(f'job "{key}" uses stage "{stage}", which stages: does not list')
            jobs[stage].append((key, value))
        names = self.rename_jobs([k for s in jobs.values() for k, _ in s])
        stage_ids = self.rename_stages([s for s in stage_names if jobs[s]])
        stages: list[dict[str, Any]] = []
        earlier: list[str] = []
        earlier_stages: list[str] = []
        for stage in (s for s in stage_names if jobs[s]):
            sid = stage_ids[stage]
            si = len(stages)
            out_jobs = []
            any_needs = any("needs" in j for _, j in jobs[stage])
            for ji, (key, job) in enumerate(jobs[stage]):
                path = ("stages", si, "jobs", ji)
                out = self.job(key, job, default, names, path)
                if "needs" not in job and any_needs and earlier:
                    out["needs"] = list(earlier)
                status = (out.get("when") or {}).get("status")
                if status == "on_failure" and not earlier and not out.get("needs"):
                    # GitLab: on_failure with no earlier job never runs; the model refuses it.
                    out.setdefault("gitlab", {})["when"] = status
                    del out["when"]["status"]
                    if not out["when"]:
                        del out["when"]
                    self.note((*path, "when"), "on_failure in the first stage", "when")
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
        if self.hatch:
            config["gitlab"] = self.hatch
        data: dict[str, Any] = {"name": self.pipeline_name(), "stages": stages}
        if config:
            data["config"] = config
        return data

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
                self.note(("jobs", key), f'job "{key}" renamed to "{name}"', "job-rename")
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
            if path[0] == "config":
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
        if not lines:
            raise self.fail(f'job "{key}" has an empty script')
        out["steps"] = [{"run": "\n".join(lines)}]
        after = job.pop("after_script", None)
        if after:
            hatch["after_script"] = list(_flatten(after))
            self.note((*path, "after_script"), "after_script has no neutral form", "after-script")
        env = self.variables(job.pop("variables", None), (*path, "env"))
        env.pop("CICD_JOB", None)
        env.pop("CICD_ENVIRONMENT", None)
        if env:
            out["env"] = env
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
            elif name in ("rules", "only"):
                cond = self.condition(name, value)
                if cond is None:
                    hatch[name] = value
                    self.note((*path, name), f"{name} kept verbatim: not a simple condition", name)
                else:
                    when_parts.update(cond)
            else:
                hatch[name] = value
                self.note((*path, name), f'"{name}" has no neutral form; kept verbatim', "hatch")
        if when_parts:
            out["when"] = when_parts
        if hatch:
            out["gitlab"] = hatch
        return out

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
        if rest:
            if "dotenv" in (rest.get("reports") or {}):
                self.note(path, "dotenv reports are not turned into outputs yet", "dotenv")
            self._keep("artifacts", rest, path, "artifacts options have no neutral form")
        return {"artifacts": out} if out else None

    def cache(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, dict) and set(value) <= {"key", "paths", "policy"}:
            key = value.get("key", "default")
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

    def condition(self, kind: str, value: Any) -> dict[str, Any] | None:
        if kind == "only":
            refs = (
                value.get("refs") if isinstance(value, dict) and set(value) == {"refs"} else value
            )
            refs = refs if isinstance(refs, list) else [refs]
            if not refs or not all(isinstance(r, str) for r in refs):
                return None
            if refs == ["tags"]:
                return {"tags": ["*"]}
            if refs == ["merge_requests"]:
                return {"events": ["pull_request"]}
            if all(re.match(r"^[\w./-]+$", r) and r not in _ONLY_KEYWORDS for r in refs):
                return {"branches": refs}
            return None
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
            return None
        rule = value[0]
        if set(rule) - {"if", "changes", "when"}:
            return None
        out: dict[str, Any] = {}
        when = rule.get("when", "on_success")
        if when not in ("on_success", "on_failure", "always"):
            return None
        if when != "on_success":
            out["status"] = when
        changes = rule.get("changes")
        if changes is not None:
            if not isinstance(changes, list) or not all(isinstance(c, str) for c in changes):
                return None
            out["paths"] = changes
        test = rule.get("if")
        if test is not None:
            if not isinstance(test, str) or "||" in test or "(" in test:
                return None
            for atom in (a.strip() for a in test.split("&&")):
                if m := _ATOM_BRANCH.match(atom) or _ATOM_REF.match(atom):
                    out.setdefault("branches", []).append(m.group(1))
                elif _ATOM_TAG.match(atom):
                    out["tags"] = ["*"]
                elif (m := _ATOM_SOURCE.match(atom)) and m.group(1) in EVENTS:
                    out.setdefault("events", []).append(EVENTS[m.group(1)])
                else:
                    return None
        return out or None


_ONLY_KEYWORDS = frozenset(
    {"api", "branches", "chat", "external", "external_pull_requests", "merge_requests"}
    | {"pipelines", "pushes", "schedules", "tags", "triggers", "web"}
)


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


def import_gitlab(text: str, name: str, *, base_dir: Path | None = None) -> ImportResult:
    """Read GitLab CI YAML text into neutral pipeline file data.

    Args:
        text: the content of a ``.gitlab-ci.yml``.
        name: the file name, used in messages and for the pipeline name.
        base_dir: the repository root that local includes are relative to; without it,
            local includes are kept in ``config.gitlab.include`` with a note.

    Raises:
        GitLabImportError: when the file cannot become a valid neutral pipeline.
    """
    from ..model.loader import pipeline_from_data

    importer = _Importer(name, base_dir)
    try:
        data = importer.run(text)
    except RecursionError:
        raise GitLabImportError(name, "the file nests too deeply") from None
    try:
        pipeline_from_data(data)
    except ValueError as exc:
        first = str(exc).strip().splitlines()
        reason = first[0] if first else "invalid"
        raise GitLabImportError(name, f"the imported pipeline is not valid: {reason}") from None
    return ImportResult(data, importer.notes)
