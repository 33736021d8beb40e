"""The normalising round-trip checker (issue 3): is a re-generated file the same pipeline?

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
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML

from codomyrmex.ci_cd_automation.translators import pins
from codomyrmex.ci_cd_automation.translators.gitlab import PRELUDE


@dataclass(frozen=True)
class Difference:
    """One semantic difference: where (``jobs.<name>.scripts``) and what differs."""

    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def renames_from_notes(
    notes: Iterable[Any], rules: tuple[str, ...] = ("job-rename", "job-renamed")
) -> dict[str, str]:
    """Original name -> imported name, from the importers' rename notes (jobs by default;
    ``rules=("matrix-axis-renamed",)`` for matrix axes)."""
    out: dict[str, str] = {}
    for note in notes:
        message, rule = (note.message, note.rule) if hasattr(note, "rule") else note[1:]
        if rule not in rules:
            continue
        names = re.findall(r'"([^"]*)"', message)
        if len(names) >= 2:
            out[names[0]] = names[-1]
    return out


# --- YAML --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """An unresolved GitLab ``!reference [a, b]``."""

    path: tuple[str, ...]


class _GitLabLoader(yaml.SafeLoader):
    """YAML 1.1 as GitLab's Psych reads it: every ``<<`` merge key of a mapping applies."""


_GitLabLoader.add_constructor(
    "!reference",
    lambda loader, node: _Ref(tuple(str(x) for x in loader.construct_sequence(node, deep=True))),
)


def _load(text: str, gitlab: bool = False) -> Any:
    if gitlab:
        docs = [d for d in yaml.load_all(text, Loader=_GitLabLoader) if d is not None]
    else:
        reader = YAML(typ="safe", pure=True)
        reader.allow_duplicate_keys = True
        docs = [d for d in reader.load_all(text) if d is not None]
    # A GitLab file may start with a `spec:` header document; the pipeline is the last one.
    return docs[-1] if docs else {}


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _closure(graph: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}

    def walk(job: str, seen: frozenset[str]) -> frozenset[str]:
        if job in out:
            return out[job]
        acc: set[str] = set()
        for dep in graph.get(job, ()):
            acc.add(dep)
            if dep not in seen:
                acc |= walk(dep, seen | {dep})
        out[job] = frozenset(acc)
        return out[job]

    for job in graph:
        walk(job, frozenset({job}))
    return out


def _lines(entries: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for entry in entries:
        for line in str(entry).split("\n"):
            if line.strip():
                out.append(line.strip())
    return out


def _diff(
    label: str, a: Mapping[str, Any], b: Mapping[str, Any], show: Callable[[Any], str] = _canon
) -> list[Difference]:
    out: list[Difference] = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(
                Difference(
                    f"{label}.{key}",
                    f"original {show(a.get(key))}, generated {show(b.get(key))}",
                )
            )
    return out


def _short(value: Any, limit: int = 160) -> str:
    text = _canon(sorted(value, key=_canon) if isinstance(value, set | frozenset) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _script_diff(path: str, a: list[str], b: list[str]) -> list[Difference]:
    if a == b:
        return []
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    first = a[i] if i < len(a) else "<end>"
    second = b[i] if i < len(b) else "<end>"
    return [
        Difference(
            path,
            f"{len(a)} vs {len(b)} lines; first difference at line {i + 1}: "
            f"original {first[:100]!r}, generated {second[:100]!r}",
        )
    ]


# --- GitLab --------------------------------------------------------------------------------

GITLAB_GLOBAL_KEYS = frozenset(
    {"stages", "types", "variables", "include", "workflow", "default", "spec", "image"}
    | {"services", "before_script", "after_script", "cache", "pages:deploy"}
) - {"pages:deploy"}
GITLAB_DEFAULT_STAGES = ["build", "test", "deploy"]
_PRELUDE_LINES = _lines(PRELUDE)
# The importer writes GitLab's predefined facts as the neutral ones, which the generated
# file sets from them (variables: CICD_SHA: $CI_COMMIT_SHA...): read them back.
_GITLAB_FACTS = {"CICD_SHA": "CI_COMMIT_SHA", "CICD_RUN_ID": "CI_PIPELINE_ID"}
_GITLAB_FACTS["CICD_WORKSPACE"] = "CI_PROJECT_DIR"
_GITLAB_FACT = re.compile(r"\$(\{?)(CICD_SHA|CICD_RUN_ID|CICD_WORKSPACE)(?!\w)")


def _gitlab_fact(m: re.Match[str]) -> str:
    return "$" + m.group(1) + _GITLAB_FACTS[m.group(2)]


# Lines the generator writes around outputs; the last one is the importer's dotenv step
# (a dotenv report's file appended to $CICD_OUTPUT, see gitlab_import.dotenv_outputs).
_GENERATED_LINE = re.compile(
    r"^(CICD_OUTPUT=\"\$\(mktemp\)\"|printf 'CICD_NEEDS_\w+=%s\\n' .*"
    r"|CICD_STEPS_\w+=.*; export CICD_STEPS_\w+|cat \S+ >> \"\$CICD_OUTPUT\")$"
)

# Simulated events: the variables GitLab sets for each (predefined CI/CD variables).
_MAIN = {"CI_DEFAULT_BRANCH": "main", "CI_PROJECT_PATH": "group/project"}
GITLAB_EVENTS: dict[str, dict[str, str]] = {
    "push-main": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
    "push-feature": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature/x"},
    "push-tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.2.3"},
    "merge-request": {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/x",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
    },
    "schedule": {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main"},
    "web": {"CI_PIPELINE_SOURCE": "web", "CI_COMMIT_BRANCH": "main"},
    "api": {"CI_PIPELINE_SOURCE": "api", "CI_COMMIT_BRANCH": "feature/x"},
    "trigger": {"CI_PIPELINE_SOURCE": "trigger", "CI_COMMIT_BRANCH": "main"},
}
for _env in GITLAB_EVENTS.values():
    _env.update(_MAIN)
    _env["CI_COMMIT_REF_NAME"] = (
        _env.get("CI_COMMIT_BRANCH")
        or _env.get("CI_COMMIT_TAG")
        or _env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "")
    )
    _env["CI_COMMIT_REF_SLUG"] = re.sub(r"[^a-z0-9]", "-", _env["CI_COMMIT_REF_NAME"].lower())
    _env["CI_COMMIT_SHA"] = "0123456789abcdef0123456789abcdef01234567"


def _gl_merge(base: Any, over: Any) -> Any:
    """GitLab's deep merge: hashes merge, everything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _gl_merge(base[key], value) if key in base else value
        return out
    return over


class _GitLabDoc:
    """A .gitlab-ci.yml with local includes, extends, !reference and default: resolved."""

    def __init__(self, text: str, base_dir: Path | None = None) -> None:
        raw = _load(text, gitlab=True)
        doc = raw if isinstance(raw, dict) else {}
        doc = self._includes(doc, base_dir, 0)
        self.doc = self._extends(doc)
        self.doc = self._references(self.doc, self.doc, 0)
        stages = self.doc.get("stages") or self.doc.get("types") or GITLAB_DEFAULT_STAGES
        self.stages = [".pre", *[str(s) for s in _flat(stages)], ".post"]
        self.jobs: dict[str, dict[str, Any]] = {}
        default = self.doc.get("default") if isinstance(self.doc.get("default"), dict) else {}
        for name, body in self.doc.items():
            if (
                name in GITLAB_GLOBAL_KEYS
                or str(name).startswith(".")
                or not isinstance(body, dict)
            ):
                continue
            if "script" not in body and "trigger" not in body and "run" not in body:
                continue
            job = dict(body)
            inherit = job.get("inherit", {}) if isinstance(job.get("inherit"), dict) else {}
            wanted = inherit.get("default", True)
            for key in ("before_script", "after_script") if "trigger" not in job else ():
                inherited = default.get(key, self.doc.get(key))
                allowed = wanted is True or (isinstance(wanted, list) and key in wanted)
                if key not in job and inherited is not None and allowed:
                    job[key] = inherited
            self.jobs[str(name)] = job

    def _includes(self, doc: dict[str, Any], base_dir: Path | None, depth: int) -> dict[str, Any]:
        spec = doc.get("include")
        if spec is None or base_dir is None or depth > 20:
            return doc
        merged: dict[str, Any] = {}
        kept: list[Any] = []
        for entry in spec if isinstance(spec, list) else [spec]:
            local = entry if isinstance(entry, str) and "://" not in entry else None
            if isinstance(entry, dict) and set(entry) <= {"local", "rules", "inputs"}:
                local = entry.get("local")
            if not isinstance(local, str):
                kept.append(entry)
                continue
            rel = local.lstrip("/")
            found = sorted(base_dir.glob(rel)) if any(c in rel for c in "*?[") else [base_dir / rel]
            for path in found:
                if path.is_file():
                    sub = _load(path.read_text(encoding="utf-8"), gitlab=True)
                    if isinstance(sub, dict):
                        merged = _gl_merge(merged, self._includes(sub, base_dir, depth + 1))
        out = _gl_merge(merged, {k: v for k, v in doc.items() if k != "include"})
        if kept:
            out["include"] = kept
        return dict(out)

    def _extends(self, doc: dict[str, Any]) -> dict[str, Any]:
        done: dict[str, Any] = {}

        def resolve(name: str, depth: int) -> Any:
            if name in done:
                return done[name]
            body = doc.get(name)
            if not isinstance(body, dict) or depth > 12:
                return body
            parents = body.get("extends")
            merged: dict[str, Any] = {}
            for parent in [parents] if isinstance(parents, str) else parents or []:
                base = resolve(str(parent), depth + 1)
                if isinstance(base, dict):
                    merged = _gl_merge(merged, base)
            merged = _gl_merge(merged, {k: v for k, v in body.items() if k != "extends"})
            done[name] = merged
            return merged

        return {k: resolve(k, 0) if isinstance(v, dict) else v for k, v in doc.items()}

    def _references(self, node: Any, doc: dict[str, Any], depth: int) -> Any:
        if depth > 12:
            return node
        if isinstance(node, _Ref):
            target: Any = doc
            for key in node.path:
                target = target.get(key) if isinstance(target, dict) else None
            return self._references(target, doc, depth + 1)
        if isinstance(node, dict):
            return {k: self._references(v, doc, depth) for k, v in node.items()}
        if isinstance(node, list):
            out: list[Any] = []
            for item in node:
                value = self._references(item, doc, depth)
                out.extend(value if isinstance(item, _Ref) and isinstance(value, list) else [value])
            return out
        return node


def _flat(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]
    return [x for item in value for x in _flat(item)]


# GitLab CI/CD variable expressions (rules:if, only:variables).
_GL_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|!=|=~|!~|&&|\|\||\(|\))|(?P<var>\$\{?\w+\}?)|(?P<str>\"[^\"]*\"|'[^']*')"
    r"|(?P<re>/(?:\\.|[^/\\])*/[a-z]*)|(?P<null>null)|(?P<word>\S+?(?=\s|\)|$)))"
)


class _Unparsable(Exception):
    pass


def gitlab_expression(text: str, env: Mapping[str, str]) -> bool:
    """Evaluate a GitLab ``rules:if`` expression against ``env`` (undefined is null)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _GL_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unparsable(text)
        kind = m.lastgroup or "word"
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    at = 0

    def peek() -> tuple[str, str] | None:
        return tokens[at] if at < len(tokens) else None

    def value(tok: tuple[str, str]) -> Any:
        kind, raw = tok
        if kind == "var":
            return env.get(raw.strip("${}"))
        if kind == "str":
            return raw[1:-1]
        if kind == "null":
            return None
        if kind == "re":
            return ("re", raw)
        return raw

    def regex_match(subject: Any, pattern: Any) -> bool:
        if isinstance(pattern, str) and pattern.startswith("/"):
            pattern = ("re", pattern)
        if not isinstance(pattern, tuple) or subject is None:
            return False
        body, flags = (
            pattern[1][1 : pattern[1].rindex("/")],
            pattern[1][pattern[1].rindex("/") + 1 :],
        )
        try:
            return re.search(body, str(subject), re.IGNORECASE if "i" in flags else 0) is not None
        except re.error:
            return False

    def atom() -> bool:
        nonlocal at
        tok = peek()
        if tok is None:
            raise _Unparsable(text)
        at += 1
        if tok == ("op", "("):
            result = disjunction()
            if peek() != ("op", ")"):
                raise _Unparsable(text)
            at += 1
            return result
        left = value(tok)
        nxt = peek()
        if nxt and nxt[0] == "op" and nxt[1] in ("==", "!=", "=~", "!~"):
            at += 1
            right_tok = peek()
            if right_tok is None:
                raise _Unparsable(text)
            at += 1
            right = value(right_tok)
            if nxt[1] in ("==", "!="):
                equal = (left or None) == (right or None) if right is None else left == right
                return equal if nxt[1] == "==" else not equal
            matched = regex_match(left, right)
            return matched if nxt[1] == "=~" else not matched
        return bool(left)

    def conjunction() -> bool:
        nonlocal at
        result = atom()
        while peek() == ("op", "&&"):
            at += 1
            result = atom() and result
        return result

    def disjunction() -> bool:
        nonlocal at
        result = conjunction()
        while peek() == ("op", "||"):
            at += 1
            result = conjunction() or result
        return result

    result = disjunction()
    if at != len(tokens):
        raise _Unparsable(text)
    return result


_ONLY_SOURCES = {
    "api": "api",
    "pushes": "push",
    "schedules": "schedule",
    "web": "web",
    "triggers": "trigger",
    "merge_requests": "merge_request_event",
    "pipelines": "pipeline",
    "external": "external",
    "chat": "chat",
    "external_pull_requests": "external_pull_request_event",
}


def _only_refs_match(refs: list[Any], env: Mapping[str, str]) -> bool:
    ref = env.get("CI_COMMIT_REF_NAME", "")
    for item in refs:
        text = str(item)
        if text == "branches" and "CI_COMMIT_BRANCH" in env:
            return True
        if text == "tags" and "CI_COMMIT_TAG" in env:
            return True
        if _ONLY_SOURCES.get(text) == env.get("CI_PIPELINE_SOURCE"):
            return True
        if text.startswith("/") and gitlab_expression(f"$R =~ {text}", {"R": ref}):
            return True
        if text == ref and env.get("CI_PIPELINE_SOURCE") != "merge_request_event":
            return True
    return False


def _only_except(spec: Any, env: Mapping[str, str], files: bool) -> bool | None:
    """Whether an only:/except: spec matches; None when it is absent."""
    if spec is None:
        return None
    if isinstance(spec, list | str):
        return _only_refs_match(_flat(spec), env)
    if not isinstance(spec, dict):
        return None
    checks: list[bool] = []
    if "refs" in spec:
        checks.append(_only_refs_match(_flat(spec["refs"]), env))
    if "variables" in spec:
        checks.append(any(gitlab_expression(str(v), env) for v in _flat(spec["variables"])))
    if "changes" in spec:
        checks.append(files)
    return all(checks) if checks else True


def _gitlab_outcome(job: dict[str, Any], env: Mapping[str, str], files: bool) -> str:
    """What GitLab does with ``job`` on the simulated event: never, on_success, manual..."""
    job_when = str(job.get("when", "on_success"))
    if "rules" in job:
        for rule in _flat(job.get("rules")):
            if not isinstance(rule, dict):
                continue
            if "if" in rule and not gitlab_expression(str(rule["if"]), env):
                continue
            if ("changes" in rule or "exists" in rule) and not files:
                continue
            return str(rule.get("when", job_when))
        return "never"
    only = _only_except(job.get("only"), env, files)
    if only is None:
        # Jobs without rules or only default to `only: [branches, tags]`.
        only = _only_refs_match(["branches", "tags"], env)
    excluded = _only_except(job.get("except"), env, files)
    if not only or excluded:
        return "never"
    return job_when


def _gitlab_workflow(doc: dict[str, Any], env: Mapping[str, str], files: bool) -> bool | None:
    workflow = doc.get("workflow")
    rules = workflow.get("rules") if isinstance(workflow, dict) else None
    if rules is None:
        return None
    for rule in _flat(rules):
        if not isinstance(rule, dict):
            continue
        if "if" in rule and not gitlab_expression(str(rule["if"]), env):
            continue
        if ("changes" in rule or "exists" in rule) and not files:
            continue
        return rule.get("when", "always") != "never"
    return False


def _variables(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (raw or {}).items() if isinstance(raw, dict) else []:
        if isinstance(value, dict):
            value = value.get("value", "")
        out[str(key)] = "" if value is None else str(value)
    return out


def _gitlab_form(gl: _GitLabDoc, renames: Mapping[str, str], generated: bool) -> dict[str, Any]:
    names = {name: renames.get(name, name) for name in gl.jobs}
    stage_of = {}
    for name, job in gl.jobs.items():
        stage = str(job.get("stage", "test"))
        stage_of[name] = gl.stages.index(stage) if stage in gl.stages else len(gl.stages)
    graph: dict[str, set[str]] = {}
    for name, job in gl.jobs.items():
        if "needs" in job and isinstance(job["needs"], list):
            deps = set()
            for need in job["needs"]:
                dep = need.get("job") if isinstance(need, dict) else need
                if isinstance(dep, str) and dep in gl.jobs:
                    deps.add(names[dep])
        else:
            deps = {names[o] for o in gl.jobs if stage_of[o] < stage_of[name]}
        graph[names[name]] = deps
    global_vars = _variables(gl.doc.get("variables"))
    scripts: dict[str, list[str]] = {}
    matrices: dict[str, Any] = {}
    raw_conditions: dict[str, dict[tuple[str, bool], str]] = {}
    for name, job in gl.jobs.items():
        key = names[name]
        lines = _lines(_flat(job.get("before_script")))
        if generated and lines[: len(_PRELUDE_LINES)] == _PRELUDE_LINES:
            lines = lines[len(_PRELUDE_LINES) :]
        lines += _lines(_flat(job.get("script"))) + _lines(_flat(job.get("after_script")))
        if generated:
            lines = [_GITLAB_FACT.sub(_gitlab_fact, ln) for ln in lines]
            lines = [ln for ln in lines if not _GENERATED_LINE.match(ln)]
        scripts[key] = lines
        matrices[key] = _gitlab_matrix(job.get("parallel"))
        outcome: dict[tuple[str, bool], str] = {}
        for event, base_env in GITLAB_EVENTS.items():
            env = {**base_env, **global_vars, **_variables(job.get("variables"))}
            for files in (True, False):
                try:
                    outcome[event, files] = _gitlab_outcome(job, env, files)
                except _Unparsable as exc:
                    outcome[event, files] = f"unparsable {exc}"
        raw_conditions[key] = outcome
    # A pipeline without workflow:rules runs for every source; a merge request pipeline is
    # created only when some job's rules take part in it (GitLab skips empty pipelines).
    runs: dict[tuple[str, bool], bool] = {}
    for event, base_env in GITLAB_EVENTS.items():
        for files in (True, False):
            try:
                ran = _gitlab_workflow(gl.doc, {**base_env, **global_vars}, files)
            except _Unparsable:
                ran = False
            if ran is None:
                ran = event != "merge-request" or any(
                    c[event, files] != "never" for c in raw_conditions.values()
                )
            runs[event, files] = ran
    triggers = _by_event({k: "run" if v else "no pipeline" for k, v in runs.items()})
    conditions = {
        # With no pipeline a job does not run; the triggers report that difference once.
        key: _by_event({k: v if runs[k] else "never" for k, v in outcome.items()})
        for key, outcome in raw_conditions.items()
    }
    return {
        "jobs": set(graph),
        "needs": _closure(graph),
        "scripts": scripts,
        "matrix": matrices,
        "conditions": conditions,
        "triggers": triggers,
    }


def _by_event(outcomes: Mapping[tuple[str, bool], str]) -> dict[str, str]:
    """Outcome per event; "X with changes, Y without" when changed files decide."""
    out: dict[str, str] = {}
    for event in GITLAB_EVENTS:
        yes, no = outcomes[event, True], outcomes[event, False]
        out[event] = yes if yes == no else f"{yes} with changes, {no} without"
    return out


def _gitlab_matrix(parallel: Any) -> Any:
    if isinstance(parallel, int):
        return {"count": parallel}
    if not isinstance(parallel, dict) or not isinstance(parallel.get("matrix"), list):
        return None
    combos: set[str] = set()
    for entry in parallel["matrix"]:
        if not isinstance(entry, dict):
            continue
        axes = {k: [str(x) for x in _flat(v)] for k, v in entry.items()}
        for values in itertools.product(*axes.values()):
            combos.add(_canon(dict(zip(axes, values, strict=True))))
    return sorted(combos)


def check_gitlab(
    original: str,
    generated: str,
    renames: Mapping[str, str] | None = None,
    *,
    base_dir: Path | None = None,
) -> list[Difference]:
    """The semantic differences between a GitLab file and its re-generated form."""
    renames = renames or {}
    a = _gitlab_form(_GitLabDoc(original, base_dir), renames, generated=False)
    b = _gitlab_form(_GitLabDoc(generated), {}, generated=True)
    return _compare(a, b)


def _compare(a: dict[str, Any], b: dict[str, Any]) -> list[Difference]:
    out: list[Difference] = []
    if a["jobs"] != b["jobs"]:
        if a["jobs"] - b["jobs"]:
            out.append(Difference("jobs", f"missing {_short(a['jobs'] - b['jobs'])}"))
        if b["jobs"] - a["jobs"]:
            out.append(Difference("jobs", f"added {_short(b['jobs'] - a['jobs'])}"))
    if a["triggers"] != b["triggers"]:
        ta, tb = a["triggers"], b["triggers"]
        keys = [k for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
        if all(isinstance(v, str) for v in ta.values()):
            # GitLab: whether a pipeline is created, per simulated event.
            what = "; ".join(f"{k}: original {ta.get(k)}, generated {tb.get(k)}" for k in keys)
            out.append(Difference("triggers", what))
        else:
            out += [
                Difference(
                    f"triggers.{k}", f"original {_short(ta.get(k))}, generated {_short(tb.get(k))}"
                )
                for k in keys
            ]
    for job in sorted(a["jobs"] & b["jobs"]):
        if a["needs"][job] != b["needs"][job]:
            missing, added = a["needs"][job] - b["needs"][job], b["needs"][job] - a["needs"][job]
            what = []
            if missing:
                what.append(f"no longer waits for {_short(missing)}")
            if added:
                what.append(f"now also waits for {_short(added)}")
            out.append(Difference(f"jobs.{job}.needs", "; ".join(what)))
        out += _script_or_steps(job, a["scripts"][job], b["scripts"][job])
        if a["matrix"][job] != b["matrix"][job]:
            out.append(
                Difference(
                    f"jobs.{job}.matrix",
                    f"original {_short(a['matrix'][job])}, generated {_short(b['matrix'][job])}",
                )
            )
        ca, cb = a["conditions"][job], b["conditions"][job]
        if all(isinstance(t, str) for t in a["triggers"].values()):
            # GitLab: where one side creates no pipeline, the trigger difference says it all.
            same = {e for e in ca if a["triggers"].get(e) == b["triggers"].get(e)}
            ca = {e: v for e, v in ca.items() if e in same}
            cb = {e: v for e, v in cb.items() if e in same}
        if ca != cb:
            out.append(
                Difference(
                    f"jobs.{job}.condition",
                    "; ".join(
                        f"{k}: original {ca.get(k)}, generated {cb.get(k)}"
                        for k in sorted(set(ca) | set(cb))
                        if ca.get(k) != cb.get(k)
                    )[:400],
                )
            )
    return out


def _script_or_steps(job: str, a: Any, b: Any) -> list[Difference]:
    if isinstance(a, list) and all(isinstance(x, str) for x in a + b):
        return _script_diff(f"jobs.{job}.scripts", a, b)
    if a == b:
        return []
    out: list[Difference] = []
    if len(a) != len(b):
        out.append(Difference(f"jobs.{job}.steps", f"{len(a)} steps, generated {len(b)}"))
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            for key in sorted(set(x) | set(y)):
                if x.get(key) != y.get(key):
                    out.append(
                        Difference(
                            f"jobs.{job}.steps[{i}].{key}",
                            f"original {_short(x.get(key))}, generated {_short(y.get(key))}",
                        )
                    )
            break  # later steps are shifted by the first difference more often than not
    return out


# --- GitHub --------------------------------------------------------------------------------

# The actions the generator emits itself, pinned to its own SHAs: their ref is not compared,
# nor the inputs it sets for every use (persist-credentials, the artifact archive names).
_PINNED = {pin.action for pin in pins.ALL_PINS}
_ARTIFACT_ACTIONS = {pins.UPLOAD_ARTIFACT.action, pins.DOWNLOAD_ARTIFACT.action}
_GENERATED_STEP_NAMES = re.compile(r"^(Pack artifacts \(|Unpack artifacts|Download artifacts of )")
_GENERATED_RUN_LINES = {
    'export CICD_OUTPUT="$GITHUB_OUTPUT"',
    'export CICD_WORKSPACE="$GITHUB_WORKSPACE"',
}
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_LOOKUP_ONLY = "${{ startsWith(github.ref, 'refs/tags/') }}"


def _expr_text(text: str) -> str:
    """``${{ expr }}`` with the expression's layout normalised."""

    def layout(m: re.Match[str]) -> str:
        body = " ".join(m.group(1).split())
        body = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", re.sub(r"\s*,\s*", ", ", body)))
        return "${{ " + body + " }}"

    return _EXPR.sub(layout, text)


def _merged_env(*envs: Any) -> dict[str, str]:
    """Workflow, job and step ``env:`` merged (later wins), values as text."""
    out: dict[str, str] = {}
    for env in envs:
        for key, value in (env or {}).items() if isinstance(env, dict) else []:
            out[str(key)] = _expr_text(str(value).strip())
    return out


_ENV_REF = re.compile(r"\$\{\{ env\.([A-Za-z_][\w-]*) \}\}")
_SHELL_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_INPUT_DEFAULT = re.compile(r"\(?inputs\.([\w-]+) \|\| '(?:[^']|'')*'\)?")


def _expressions(text: str, axes: Mapping[str, str], generated: bool) -> str:
    """Expression spelling that differs but means the same on GitHub.

    ``github.event.inputs.x`` is ``inputs.x`` on workflow_dispatch; the generator gives
    every input its default on other events (``inputs.x || 'd'``, documented in
    translators/github.py; the default itself is compared with the triggers); the importer
    renames matrix axes with ``-`` (a note says so).
    """
    text = _expr_text(text).replace("github.event.inputs.", "inputs.")
    text = _INPUT_DEFAULT.sub(lambda m: f"inputs.{m.group(1)}", text)
    for old, new in axes.items():
        text = re.sub(rf"\bmatrix\.{re.escape(old)}\b(?!-)", f"matrix.{new}", text)
    return text


_GITHUB_FACTS = {
    "CICD_OUTPUT": "GITHUB_OUTPUT",
    "CICD_SHA": "GITHUB_SHA",
    "CICD_REF": "GITHUB_REF",
    "CICD_RUN_ID": "GITHUB_RUN_ID",
    "CICD_WORKSPACE": "GITHUB_WORKSPACE",
}


def _run_text(text: str, env: Mapping[str, str], axes: Mapping[str, str], generated: bool) -> str:
    """A run script with templates read the same way on both sides.

    ``${{ env.X }}`` and ``$X`` are the same in a shell; ``${X}`` whose value is one
    ``${{ expr }}`` is that expression (the generator passes templates through ``env:``);
    the importer's ``$CICD_OUTPUT`` is ``$GITHUB_OUTPUT`` (the generator exports it).
    """
    text = _expressions(text, axes, generated)
    text = _ENV_REF.sub(lambda m: "${" + m.group(1) + "}", text)

    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        value = env.get(name)
        # Only ${X}: the generator writes templates braced, and an unbraced $x may be the
        # script's own variable that shadows an env entry of the same name.
        if m.group(1) and value is not None and _EXPR.fullmatch(value):
            return _expressions(value, axes, generated)
        # The importer writes GitHub's own variables as the neutral facts, which the
        # generated workflow sets from them (CICD_SHA: ${{ github.sha }}...): read them back.
        name = _GITHUB_FACTS.get(name, name)
        return "$" + name if m.group(2) or not _word_follows(m) else "${" + name + "}"

    return _SHELL_VAR.sub(var, text)


def _word_follows(m: re.Match[str]) -> bool:
    rest = m.string[m.end() : m.end() + 1]
    return bool(rest) and (rest.isalnum() or rest == "_")


def _with_value(
    value: Any, env: Mapping[str, str], axes: Mapping[str, str], generated: bool
) -> str:
    """An action input; ``${{ env.X }}`` is X's value (the generator inlines variables)."""
    text = _expressions(str(value), axes, generated)
    for _ in range(3):
        new = _ENV_REF.sub(lambda m: env.get(m.group(1), m.group(0)), text)
        if new == text:
            break
        text = new
    # Multi-line inputs (paths, restore-keys) are lists of lines: blank ones do not count.
    return "\n".join(line.strip() for line in text.strip().split("\n") if line.strip())


@dataclass(frozen=True)
class _Unknown:
    """A value the simulation does not know (an input, a matrix value, an output)."""

    name: str

    def __str__(self) -> str:
        return f"<{self.name}>"


_GH_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?(?![\w.]))|(?P<str>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>(),\[\].*])|(?P<name>[A-Za-z_][\w-]*))"
)


def github_expression(text: str, ctx: Mapping[str, Any], status: str) -> Any:
    """Evaluate a GitHub expression; ``status`` is success, failure or cancelled."""
    tokens: list[tuple[str, str]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _GH_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unparsable(text)
        tokens.append((m.lastgroup or "", m.group(m.lastgroup or 0)))
        pos = m.end()
    at = 0

    def peek() -> tuple[str, str] | None:
        return tokens[at] if at < len(tokens) else None

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal at
        tok = peek()
        if tok is None or (expected is not None and tok[1] != expected):
            raise _Unparsable(text)
        at += 1
        return tok

    def text_of(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    def call(name: str, args: list[Any]) -> Any:
        fn = name.lower()
        if fn == "success":
            return status == "success"
        if fn == "failure":
            return status == "failure"
        if fn == "cancelled":
            return status == "cancelled"
        if fn == "always":
            return True
        if fn in ("startswith", "endswith", "contains"):
            hay, needle = args[0], args[1]
            if fn == "contains" and isinstance(hay, list):
                return any(text_of(x).lower() == text_of(needle).lower() for x in hay)
            h, n = text_of(hay).lower(), text_of(needle).lower()
            return {"startswith": h.startswith, "endswith": h.endswith}.get(fn, h.__contains__)(n)
        if fn == "format":
            template = text_of(args[0])
            return re.sub(r"\{(\d+)\}", lambda m: text_of(args[int(m.group(1)) + 1]), template)
        if fn == "join":
            return text_of(args[1] if len(args) > 1 else ",").join(map(text_of, args[0]))
        return _Unknown(f"{fn}({','.join(map(text_of, args))})")

    def primary() -> Any:
        tok = take()
        kind, raw = tok
        if raw == "(":
            value = disjunction()
            take(")")
            return value
        if raw == "!":
            return not truthy(primary())
        if kind == "num":
            value: Any = float(raw)
        elif kind == "str":
            value = raw[1:-1].replace("''", "'")
        elif kind == "name" and raw in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[raw]
        elif kind == "name":
            nxt = peek()
            if nxt and nxt[1] == "(":
                take("(")
                args: list[Any] = []
                while peek() and peek() != ("op", ")"):
                    args.append(disjunction())
                    if peek() == ("op", ","):
                        take(",")
                take(")")
                value = call(raw, args)
            else:
                value = ctx.get(raw, _Unknown(raw))
        else:
            raise _Unparsable(text)
        while peek() and peek()[1] in (".", "["):  # type: ignore[index]
            if take()[1] == ".":
                key = take()[1]
            else:
                key = text_of(disjunction())
                take("]")
            if isinstance(value, dict):
                value = value.get(key, _Unknown(f"{key}"))
            elif isinstance(value, _Unknown):
                value = _Unknown(f"{value.name}.{key}")
            else:
                value = None
        return value

    def truthy(v: Any) -> bool:
        if isinstance(v, _Unknown):
            return True
        return bool(v) and v != 0

    def comparison() -> Any:
        left = primary()
        nxt = peek()
        if nxt and nxt[1] in ("==", "!=", "<", ">", "<=", ">="):
            op = take()[1]
            right = primary()
            if op in ("==", "!="):
                if isinstance(left, str) and isinstance(right, str):
                    eq = left.lower() == right.lower()
                elif isinstance(left, _Unknown) or isinstance(right, _Unknown):
                    eq = str(left) == str(right)
                else:
                    eq = left == right
                return eq if op == "==" else not eq
            try:
                return {"<": left < right, ">": left > right, "<=": left <= right}.get(
                    op, left >= right
                )
            except TypeError:
                return False
        return left

    def conjunction() -> Any:
        value = comparison()
        while peek() == ("op", "&&"):
            take()
            right = comparison()
            value = right if truthy(value) else value
        return value

    def disjunction() -> Any:
        value = conjunction()
        while peek() == ("op", "||"):
            take()
            right = conjunction()
            value = value if truthy(value) else right
        return value

    result = disjunction()
    if at != len(tokens):
        raise _Unparsable(text)
    return truthy(result)


def _gh_contexts() -> dict[str, dict[str, Any]]:
    def github(event: str, ref: str, **extra: Any) -> dict[str, Any]:
        kind = "tag" if ref.startswith("refs/tags/") else "branch"
        name = ref.split("/", 2)[-1] if not ref.startswith("refs/pull/") else "7/merge"
        return {
            "event_name": event,
            "ref": ref,
            "ref_name": name,
            "ref_type": kind,
            "head_ref": "",
            "base_ref": "",
            "repository": "owner/repo",
            "repository_owner": "owner",
            "sha": "0123456789abcdef",
            "event": {},
            **extra,
        }

    return {
        "push-main": github("push", "refs/heads/main"),
        "push-feature": github("push", "refs/heads/feature/x"),
        "push-tag": github("push", "refs/tags/v1.2.3"),
        "pull-request": github(
            "pull_request", "refs/pull/7/merge", head_ref="feature/x", base_ref="main"
        ),
        "schedule": github("schedule", "refs/heads/main"),
        "manual": github("workflow_dispatch", "refs/heads/main"),
    }


GITHUB_EVENTS = _gh_contexts()
_STATUS_FN = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.I)


def _gh_condition(cond: Any, needs: Iterable[str]) -> dict[str, str]:
    """The outcome of a job or step ``if:`` on every simulated event and upstream status."""
    out: dict[str, str] = {}
    text = (
        "true" if cond is None else str(cond) if not isinstance(cond, bool) else str(cond).lower()
    )
    text = text.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not _STATUS_FN.search(text):
        text = f"success() && ({text})"
    for event, github in GITHUB_EVENTS.items():
        for status in ("success", "failure"):
            result = "failure" if status == "failure" else "success"
            ctx = {
                "github": github,
                "needs": {n: {"result": result} for n in needs},
                "runner": {"os": "Linux"},
            }
            try:
                value = github_expression(text, ctx, status)
            except (_Unparsable, IndexError, ValueError):
                return {"unparsable": " ".join(text.split())}
            out[f"{event},{status}"] = "run" if value else "skip"
    return out


def _gh_on(on: Any) -> dict[str, Any]:
    if on is None:
        return {}
    if isinstance(on, str):
        on = {on: {}}
    if isinstance(on, list):
        on = {str(e): {} for e in on}
    out: dict[str, Any] = {}
    for event, spec in on.items() if isinstance(on, dict) else []:
        spec = spec if isinstance(spec, dict | list) else {}
        if event == "schedule":
            out[event] = sorted(_canon(x) for x in spec) if isinstance(spec, list) else spec
            continue
        if not isinstance(spec, dict):
            out[str(event)] = spec
            continue
        norm: dict[str, Any] = {}
        for key, value in spec.items():
            if key == "inputs" and isinstance(value, dict):
                norm[key] = {k: _gh_input(k, v) for k, v in value.items()}
            elif isinstance(value, list):
                norm[key] = sorted(str(x) for x in value)
            elif isinstance(value, str) and key in ("branches", "tags", "paths", "types"):
                norm[key] = [value]
            else:
                norm[key] = value
        if norm.get("inputs") == {}:
            norm.pop("inputs")
        out[str(event)] = norm
    return out


def _gh_input(name: str, spec: Any) -> Any:
    spec = dict(spec) if isinstance(spec, dict) else {}
    spec.setdefault("type", "string")
    spec["required"] = bool(spec.get("required", False))
    if spec.get("description") in (None, name):
        spec.pop("description", None)
    if "default" in spec:
        spec["default"] = (
            str(spec["default"]).lower()
            if isinstance(spec["default"], bool)
            else str(spec["default"])
        )
    return spec


def _gh_matrix(strategy: Any) -> Any:
    if not isinstance(strategy, dict) or "matrix" not in strategy:
        return None
    matrix = strategy["matrix"]
    if not isinstance(matrix, dict):
        return _expr_text(str(matrix))
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    if any(not isinstance(v, list) for v in axes.values()):
        return _canon({k: _expr_text(v) if isinstance(v, str) else v for k, v in matrix.items()})
    combos: list[dict[str, Any]] = (
        [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
        if axes
        else []
    )
    for ex in matrix.get("exclude") or []:
        if isinstance(ex, dict):
            combos = [c for c in combos if any(c.get(k) != v for k, v in ex.items())]
    # GitHub: an include entry extends every combination whose original axes it matches
    # without overwriting them; if it extends none, it is added as a combination of its own.
    originals = [dict(c) for c in combos]
    for inc in matrix.get("include") or []:
        if not isinstance(inc, dict):
            continue
        matched = False
        for i, base in enumerate(originals):
            if all(base.get(k) == v for k, v in inc.items() if k in axes):
                combos[i] = {**combos[i], **inc}
                matched = True
        if not matched:
            combos.append(dict(inc))
    return sorted(_canon(c) for c in combos)


def _gh_steps(
    job: dict[str, Any], wf_env: Any, axes: Mapping[str, str], generated: bool
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for raw in job.get("steps") or []:
        if not isinstance(raw, dict):
            continue
        if generated and _GENERATED_STEP_NAMES.match(str(raw.get("name", ""))):
            continue
        step: dict[str, Any] = {}
        step_env = raw.get("env") if isinstance(raw.get("env"), dict) else {}
        env = _merged_env(wf_env, job.get("env"), step_env)
        if "run" in raw:
            body = str(raw["run"])
            if generated and "CICD_SCRIPT" in step_env:
                body = str(step_env["CICD_SCRIPT"])  # the step retry loop runs this script
            body = _run_text(body, env, axes, generated)
            lines = _lines([body])
            step["run"] = [ln for ln in lines if not (generated and ln in _GENERATED_RUN_LINES)]
        if "uses" in raw:
            uses = str(raw["uses"]).split("#")[0].strip()
            action, _, _ref = uses.partition("@")
            with_ = raw.get("with") if isinstance(raw.get("with"), dict) else {}
            with_ = {str(k): _with_value(v, env, axes, generated) for k, v in with_.items()}
            if action in _PINNED:
                step["uses"] = action
                with_.pop("persist-credentials", None)
                if generated and with_.get("lookup-only") == _LOOKUP_ONLY:
                    with_.pop("lookup-only")  # caches are not restored on tag pushes
                if action in _ARTIFACT_ACTIONS:
                    with_ = {}
            else:
                step["uses"] = uses
            if with_:
                step["with"] = with_
        cond = raw.get("if")
        step["if"] = _gh_condition(
            _expressions(str(cond), axes, generated) if cond is not None else None, ()
        )
        steps.append(step)
    return steps


def _rename_axis(matrix: Any, old: str, new: str) -> Any:
    if not isinstance(matrix, list):
        return matrix
    renamed = []
    for combo in matrix:
        values = json.loads(combo)
        if old in values:
            values[new] = values.pop(old)
        renamed.append(_canon(values))
    return sorted(renamed)


def _github_form(
    text: str, renames: Mapping[str, str], generated: bool, axes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    axes = axes or {}
    doc = _load(text)
    doc = doc if isinstance(doc, dict) else {}
    on = doc.get("on", doc.get(True))  # YAML 1.1 readers turn `on` into true
    jobs = doc.get("jobs") if isinstance(doc.get("jobs"), dict) else {}
    names = {str(k): renames.get(str(k), str(k)) for k in jobs}
    graph: dict[str, set[str]] = {}
    scripts: dict[str, Any] = {}
    matrices: dict[str, Any] = {}
    conditions: dict[str, Any] = {}
    for job_id, job in jobs.items():
        job = job if isinstance(job, dict) else {}
        key = names[str(job_id)]
        needs = job.get("needs") or []
        needs = [needs] if isinstance(needs, str) else [str(n) for n in needs]
        graph[key] = {names.get(n, n) for n in needs}
        steps = _gh_steps(job, doc.get("env"), axes, generated)
        if "uses" in job:
            steps.insert(0, {"uses": str(job["uses"]), "with": job.get("with")})
        scripts[key] = steps
        matrix = _gh_matrix(job.get("strategy"))
        for old, new in axes.items():
            matrix = _rename_axis(matrix, old, new)
        matrices[key] = matrix
        cond = job.get("if")
        conditions[key] = _gh_condition(
            _expressions(str(cond), axes, generated) if cond is not None else None, needs
        )
    return {
        "jobs": set(graph),
        "needs": _closure(graph),
        "scripts": scripts,
        "matrix": matrices,
        "conditions": conditions,
        "triggers": _gh_on(on),
    }


def check_github(
    original: str,
    generated: str,
    renames: Mapping[str, str] | None = None,
    axes: Mapping[str, str] | None = None,
) -> list[Difference]:
    """The semantic differences between a workflow and its re-generated form.

    ``renames`` maps original job ids to imported names, ``axes`` original matrix axis names
    to imported ones (both from the importer's notes, see ``renames_from_notes``)."""
    a = _github_form(original, renames or {}, generated=False, axes=axes)
    b = _github_form(generated, {}, generated=True)
    return _compare(a, b)


# --- the corpus ----------------------------------------------------------------------------

# The shared corpus sits beside the checkout (../shared/corpus), in CI as on a laptop.
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
GITHUB_DIRS = ("github", "schemastore/github-workflow/valid")
GITLAB_DIRS = ("gitlab", "schemastore/gitlab-ci/valid", "gitlab-schema-tests/valid")


@dataclass(frozen=True)
class CorpusImport:
    """One corpus file and what importing it gave: the result, or the one-line error."""

    provider: str
    path: Path
    text: str
    result: Any  # an ImportResult, or None when the import failed
    error: str | None
    base_dir: Path | None

    @property
    def label(self) -> str:
        return str(self.path.relative_to(CORPUS))


def corpus_files(provider: str) -> list[Path]:
    dirs = GITHUB_DIRS if provider == "github" else GITLAB_DIRS
    return [p for d in dirs for p in sorted((CORPUS / d).glob("*")) if p.is_file()]


def corpus_repo_trees(dest: Path) -> dict[str, Path]:
    """Lay the flattened GitLab corpus files out as their repositories (SOURCES.tsv gives
    each file's repository and path) under ``dest``, so that local includes resolve.
    Returns the corpus-relative path of each file -> its repository root."""
    out: dict[str, Path] = {}
    for line in (CORPUS / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 3 or not cols[0].startswith("gitlab/"):
            continue
        local, repo, path = cols[0], cols[1], cols[2]
        root = dest / repo.replace("/", "__")
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((CORPUS / local).read_bytes())
        out[local] = root
    return out


def import_corpus(provider: str, trees: Mapping[str, Path] | None = None) -> list[CorpusImport]:
    """Import every corpus file of ``provider``; GitLab files with their repository tree as
    the base folder when the includes resolve there, else without one."""
    from codomyrmex.ci_cd_automation.translators.github_import import import_github
    from codomyrmex.ci_cd_automation.translators.gitlab_import import import_gitlab

    out: list[CorpusImport] = []
    for path in corpus_files(provider):
        text = path.read_text(encoding="utf-8", errors="replace")
        label = str(path.relative_to(CORPUS))
        base = (trees or {}).get(label)
        attempts: list[Path | None] = [base, None] if base else [None]
        result, error, used = None, None, None
        for base_dir in attempts:
            try:
                if provider == "github":
                    result = import_github(text, path.name)
                else:
                    result = import_gitlab(text, path.name, base_dir=base_dir)
            except ValueError as exc:
                error = str(exc)
                continue
            error, used = None, base_dir
            break
        out.append(CorpusImport(provider, path, text, result, error, used))
    return out


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
