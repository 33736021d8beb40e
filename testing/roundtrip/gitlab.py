"""GitLab semantics: a .gitlab-ci.yml reduced to its semantic form.

Local includes, ``extends``, ``!reference`` and ``default:`` inheritance are resolved first;
``rules:``, ``only:``/``except:`` and ``workflow: rules`` are evaluated on simulated events
(``GITLAB_EVENTS``: the predefined variables GitLab sets for each), with and without changed
files. A generated file loses the ``CICD_*`` prelude and the lines the generator writes around
outputs before it is compared.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codomyrmex.ci_cd_automation.translators.gitlab import PRELUDE

from .common import Difference, Unparsable, canon, closure, compare, script_lines


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


def _load(text: str) -> Any:
    docs = [d for d in yaml.load_all(text, Loader=_GitLabLoader) if d is not None]
    # A GitLab file may start with a `spec:` header document; the pipeline is the last one.
    return docs[-1] if docs else {}


GITLAB_GLOBAL_KEYS = frozenset(
    {"stages", "types", "variables", "include", "workflow", "default", "spec", "image"}
    | {"services", "before_script", "after_script", "cache", "pages:deploy"}
) - {"pages:deploy"}
GITLAB_DEFAULT_STAGES = ["build", "test", "deploy"]
_PRELUDE_LINES = script_lines(PRELUDE)
# The importer writes GitLab's predefined facts as the neutral ones, which the generated
# file sets from them (variables: CICD_SHA: $CI_COMMIT_SHA...): read them back.
_GITLAB_FACTS = {"CICD_SHA": "CI_COMMIT_SHA", "CICD_RUN_ID": "CI_PIPELINE_ID"}
_GITLAB_FACTS["CICD_WORKSPACE"] = "CI_PROJECT_DIR"
_GITLAB_FACT = re.compile(r"\$(\{?)(CICD_SHA|CICD_RUN_ID|CICD_WORKSPACE)(?!\w)")


def _gitlab_fact(m: re.Match[str]) -> str:
    return "$" + m.group(1) + _GITLAB_FACTS[m.group(2)]


# Lines the generator writes around outputs; the last one is the importer's dotenv step
# (a dotenv report's file appended to $CICD_OUTPUT, see
# gitlab_keywords.JobKeywords.dotenv_outputs).
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
        raw = _load(text)
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
                    sub = _load(path.read_text(encoding="utf-8"))
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


def gitlab_expression(text: str, env: Mapping[str, str]) -> bool:
    """Evaluate a GitLab ``rules:if`` expression against ``env`` (undefined is null)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _GL_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unparsable(text)
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
            raise Unparsable(text)
        at += 1
        if tok == ("op", "("):
            result = disjunction()
            if peek() != ("op", ")"):
                raise Unparsable(text)
            at += 1
            return result
        left = value(tok)
        nxt = peek()
        if nxt and nxt[0] == "op" and nxt[1] in ("==", "!=", "=~", "!~"):
            at += 1
            right_tok = peek()
            if right_tok is None:
                raise Unparsable(text)
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
        raise Unparsable(text)
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
        lines = script_lines(_flat(job.get("before_script")))
        if generated and lines[: len(_PRELUDE_LINES)] == _PRELUDE_LINES:
            lines = lines[len(_PRELUDE_LINES) :]
        for part in ("script", "after_script"):
            lines += script_lines(_flat(job.get(part)))
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
                except Unparsable as exc:
                    outcome[event, files] = f"unparsable {exc}"
        raw_conditions[key] = outcome
    # A pipeline without workflow:rules runs for every source; a merge request pipeline is
    # created only when some job's rules take part in it (GitLab skips empty pipelines).
    runs: dict[tuple[str, bool], bool] = {}
    for event, base_env in GITLAB_EVENTS.items():
        for files in (True, False):
            try:
                ran = _gitlab_workflow(gl.doc, {**base_env, **global_vars}, files)
            except Unparsable:
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
        "needs": closure(graph),
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
            combos.add(canon(dict(zip(axes, values, strict=True))))
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
    return compare(a, b)
