"""GitLab's ``rules:if`` language: parse, evaluate, and fold into neutral conditions.

A fold is accepted only when exact: the native and neutral forms agree in every scenario of a
finite set that decides them. See docs/importing.md (GitLab ``rules`` and exact folding).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError

from ..model.conditions import trigger_holds, when_holds
from ..model.patterns import escape_glob, example, glob_matches, regex_glob
from ..model.pipeline import (
    IDENT_PATTERN,
    RESERVED_VARIABLE_PREFIXES,
    Event,
    PipelineConfig,
    When,
)
from .gitlab import EVENT_SOURCES

# CI_PIPELINE_SOURCE -> the neutral event: the GitLab generator's table, inverted.
EVENTS: dict[str, Event] = {
    source: cast(Event, event) for event, sources in EVENT_SOURCES.items() for source in sources
}
SOURCE = "CI_PIPELINE_SOURCE"
_BRANCH = "CI_COMMIT_BRANCH"
_TAG = "CI_COMMIT_TAG"
_REF = "CI_COMMIT_REF_NAME"
_MR_SOURCE = "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"
_MR_TARGET = "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
_MR_IID = "CI_MERGE_REQUEST_IID"
_REF_VARS = frozenset({_BRANCH, _TAG, _REF, _MR_SOURCE, _MR_TARGET})
_EVENT_VARS = _REF_VARS | {SOURCE, _MR_IID}
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


class Unsupported(Exception):
    """An expression or rule outside what the exact folding reads."""


def _parse_if(text: str) -> Any:
    """A ``rules:if`` expression as nested ``("or"|"and", [...])`` tuples over atoms."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported(text)
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
            raise Unsupported(text)
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
                raise Unsupported(text)
            return inner
        if kind != "val" or not isinstance(value, _Var):
            raise Unsupported(text)
        nxt = peek()
        if nxt and nxt[0] == "op" and nxt[1] in ("==", "!=", "=~", "!~"):
            take()
            vkind, other = take()
            if vkind != "val":
                raise Unsupported(text)
            if nxt[1] in ("=~", "!~") and not isinstance(other, _Regex):
                raise Unsupported(text)
            return _Atom(value.name, nxt[1], other)
        return _Atom(value.name)

    tree = expr("or")
    if at != len(tokens):
        raise Unsupported(text)
    return tree


def _regex_glob(source: str) -> str | None:
    """The neutral glob a ``/^...$/`` regular expression stands for, if any."""
    m = re.fullmatch(r"/\^(.*)\$/", source)
    return regex_glob(m.group(1)) if m else None


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
            hit = glob_matches(regex.glob, value)
        else:
            body, _, flags = regex.source[1:].rpartition("/")
            try:
                found = re.search(body, value or "", re.I if "i" in flags else 0)
            except re.error:
                raise Unsupported(regex.source) from None
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
            raise Unsupported("too many alternatives")
    return out


@dataclass
class Rule:
    test: Any  # parsed `if`, or None
    changes: int | None  # index of its `changes` list, or None
    when: str


def read_rules(rules: Any, changes_lists: list[list[str]]) -> list[Rule]:
    if not isinstance(rules, list) or not rules:
        raise Unsupported("rules")
    out = []
    for rule in rules:
        if not isinstance(rule, dict) or set(rule) - {"if", "changes", "when"}:
            raise Unsupported("rule keys")
        test = rule.get("if")
        if test is not None and not isinstance(test, str):
            raise Unsupported("if")
        changes = rule.get("changes")
        index = None
        if changes is not None:
            if isinstance(changes, dict) and set(changes) == {"paths"}:
                changes = changes["paths"]
            if not isinstance(changes, list) or not all(isinstance(c, str) and c for c in changes):
                raise Unsupported("changes")
            if changes and changes not in changes_lists:
                changes_lists.append(changes)
            index = changes_lists.index(changes) if changes else None
        when = rule.get("when", "on_success")
        if not isinstance(when, str):
            raise Unsupported("when")
        out.append(Rule(_parse_if(test) if test else None, index, when))
    return out


def outcome(rules: list[Rule], env: dict[str, Any]) -> str | None:
    for rule in rules:
        if rule.test is not None and not _eval(rule.test, env):
            continue
        if rule.changes is not None and _diffed(env) and not env.get(f"changes#{rule.changes}"):
            continue
        return None if rule.when == "never" else rule.when
    return None


def _diffed(env: Mapping[str, Any]) -> bool:
    """True when the pipeline has a push to compare with: GitLab's ``rules:changes`` is true in
    every other pipeline (tags, schedules, web, API, triggers: "no Git push event")."""
    source = env.get(SOURCE)
    return source == "merge_request_event" or (source == "push" and env.get(_TAG) is None)


def _events(refs: list[str], sources: tuple[str, ...] = _SOURCES) -> Iterator[dict[str, Any]]:
    """The CI facts of each kind of pipeline, on each ref value."""
    for source in sources:
        if source == "merge_request_event":
            for src in refs:
                for target in refs:
                    yield {
                        SOURCE: source,
                        _MR_SOURCE: src,
                        _MR_TARGET: target,
                        _REF: src,
                        _MR_IID: "1",
                    }
            continue
        for ref in refs:
            yield {SOURCE: source, _BRANCH: ref, _REF: ref}
            if source in ("push", "web", "api"):
                yield {SOURCE: source, _TAG: ref, _REF: ref}


def scenarios(
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
                raise Unsupported(atom.value.source)
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
        refs.add(example(glob))
    for name in linked:
        user.setdefault(name, {None, "", "zz-other"}).update(refs)
    base = list(_events(sorted(refs), sources))
    names = sorted(user)
    combos = 1
    for name in names:
        combos *= len(user[name])
    if len(base) * combos * (2**n_changes) > _MAX_SCENARIOS:
        raise Unsupported("too many scenarios")
    out = []
    for event in base:
        for combo in itertools.product(*(sorted(user[n], key=str) for n in names)):
            for flags in itertools.product((False, True), repeat=n_changes):
                env = dict(event)
                env.update((n, v) for n, v in zip(names, combo, strict=True) if v is not None)
                env.update((f"changes#{i}", f) for i, f in enumerate(flags))
                out.append(env)
    return out


@dataclass(frozen=True)
class _Facts:
    """One imagined GitLab pipeline's CI facts as the neutral conditions read them (an
    ``Occasion``). ``lists`` numbers the rules' ``changes`` patterns; whether a changed file
    matches list ``i`` is the scenario's flag ``changes#i``."""

    env: Mapping[str, Any]
    lists: Mapping[tuple[str, ...], int] = field(default_factory=dict)

    @property
    def event(self) -> Event | None:
        return EVENTS.get(str(self.env.get(SOURCE)))

    @property
    def branch(self) -> str | None:
        branch = self.env.get(_BRANCH)
        return branch if branch is not None else self.env.get(_MR_SOURCE)

    @property
    def tag(self) -> str | None:
        return self.env.get(_TAG)

    @property
    def base(self) -> str | None:
        return self.env.get(_MR_TARGET)

    @property
    def nothing_changed(self) -> bool:
        return False

    def changes(self, patterns: Sequence[str]) -> bool:
        return bool(self.env.get(f"changes#{self.lists[tuple(patterns)]}"))

    def describe(self) -> str:
        return f"{self.env.get(SOURCE)} pipeline"


def _when_model(when: dict[str, Any], paths: list[str] | None) -> When | None:
    """A candidate ``when`` (filters only) as the model reads it, or None when invalid."""
    try:
        return When.model_validate(when if paths is None else {**when, "paths": paths})
    except ValidationError:
        return None


def _when_holds(when: When, env: Mapping[str, Any], lists: Sequence[Sequence[str]]) -> bool:
    """A neutral ``when``'s filters on a GitLab pipeline (``model.conditions``)."""
    return when_holds(when, _Facts(env, _numbered(lists)), env)


def _numbered(lists: Sequence[Sequence[str]]) -> dict[tuple[str, ...], int]:
    return {tuple(patterns): i for i, patterns in enumerate(lists)}


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
        pattern = escape_glob(literal) if atom.op == "==" and literal is not None else None
        pattern = glob if atom.op == "=~" else pattern
        if atom.var in (_BRANCH, _REF, _MR_SOURCE) and pattern:
            add("branches", pattern)
        elif atom.var == _BRANCH and (atom.op == "" or (atom.op == "!=" and atom.value is None)):
            add("branches", "**")
        elif atom.var == _TAG and (atom.op == "" or (atom.op == "!=" and atom.value is None)):
            add("tags", "**")
        elif atom.var == _TAG and pattern:
            add("tags", pattern)
        elif atom.var == SOURCE and atom.op == "==" and literal in EVENTS:
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


def try_rules(raw: Any) -> list[Rule] | None:
    try:
        rules = read_rules(raw, [])
    except Unsupported:
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


def _triggers_model(triggers: dict[str, Any]) -> PipelineConfig:
    """Folded triggers as the model's configuration (Unsupported when they are not valid)."""
    try:
        return PipelineConfig.model_validate({"triggers": triggers})
    except ValidationError:
        raise Unsupported("triggers") from None


def _triggers_hold(config: PipelineConfig, env: Mapping[str, Any]) -> bool:
    """Neutral triggers on a GitLab pipeline (``model.conditions``)."""
    return trigger_holds(config, _Facts(env))


def _workflow_triggers(conjunctions: list[list[_Atom]]) -> dict[str, Any]:
    """A first guess at the neutral triggers for the accepting alternatives of a workflow."""
    triggers: dict[str, Any] = {}
    for conj in conjunctions:
        sources = {a.value for a in conj if a.var == SOURCE and a.op == "=="}
        rest = [a for a in conj if not (a.var == SOURCE and a.op == "==")]
        if len(sources) > 1:
            raise Unsupported("two sources")
        source = sources.pop() if sources else "push"
        if source in ("web", "api"):
            if rest:
                raise Unsupported("manual with filters")
            triggers["manual"] = {}
            continue
        if source == "merge_request_event":
            targets = [a.value for a in rest if a.var == _MR_TARGET and a.op == "=="]
            if len(targets) != len(rest):
                raise Unsupported("merge request filters")
            pull = triggers.setdefault("pull_request", {})
            if not targets:
                pull["branches"] = None
            elif "branches" not in pull or pull["branches"] is not None:
                pull["branches"] = [*(pull.get("branches") or []), *targets]
            continue
        if source != "push":
            raise Unsupported(f"source {source}")
        parts = _when_parts(rest)
        if parts is None or set(parts) - {"branches", "tags"}:
            raise Unsupported("push filters")
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


# --- folding a file's rules -------------------------------------------------------------


@dataclass
class RuleFolder:
    """Folds one file's ``workflow:rules`` and job ``rules`` into neutral conditions.

    ``triggers`` holds the neutral triggers once ``workflow:rules`` folded; ``workflow_rules``
    the parsed workflow rules when they were kept verbatim but are readable (a job's rules are
    then checked on the pipelines they admit); ``config_variables`` the pipeline variables a
    neutral ``when.variables`` may name.
    """

    config_variables: set[str] = field(default_factory=set)
    triggers: dict[str, Any] | None = None
    workflow_rules: list[Rule] | None = None
    exotic_sources: bool = False  # folded, but trigger/chat pipelines no longer run
    _config: PipelineConfig | None = None  # ``triggers`` as the model reads them

    def fold_workflow(self, value: Any) -> dict[str, Any] | None:
        """``workflow:rules`` as neutral triggers when they fold exactly, else None."""
        if not isinstance(value, dict) or set(value) != {"rules"}:
            return None
        try:
            rules = read_rules(value["rules"], [])
            if any(r.changes is not None for r in rules):
                raise Unsupported("changes")
            conjunctions = [
                conj
                for r in rules
                if r.when != "never"
                for conj in (_dnf(r.test) if r.test else [[]])
            ]
            if any(r.when not in ("always", "on_success", "never") for r in rules):
                raise Unsupported("when")
            triggers = _workflow_triggers(conjunctions)
            if not triggers:
                raise Unsupported("no pipeline")
            globs = [
                g for t in triggers.values() for k in ("branches", "tags") for g in (t.get(k) or [])
            ]
            trees = [r.test for r in rules if r.test is not None]
            config = _triggers_model(triggers)
            exotic = False
            for env in scenarios(trees, 0, globs):
                want = outcome(rules, env) is not None
                if env[SOURCE] == "trigger":
                    exotic = exotic or want
                    continue
                if want != _triggers_hold(config, env):
                    raise Unsupported("not exact")
        except Unsupported:
            self.workflow_rules = try_rules(value.get("rules"))
            return None
        self.exotic_sources = exotic
        self.triggers, self._config = triggers, config
        return triggers

    def pipeline_runs(self, env: dict[str, Any]) -> bool:
        """True when the pipeline exists for these CI facts (a job's rules matter then)."""
        if self._config is not None:
            return _triggers_hold(self._config, env)
        if self.workflow_rules is not None:
            return outcome(self.workflow_rules, env) is not None
        # workflow:rules kept verbatim but unreadable here (a regex, say): any pipeline may
        # run, so a job's condition must be exact on all of them.
        return True

    def fold_rules(self, raw: Any) -> dict[str, Any] | None:
        """A job's ``rules`` as one neutral ``when`` when exact; None otherwise."""
        try:
            lists: list[list[str]] = []
            rules = read_rules(raw, lists)
            positives = [r for r in rules if r.when != "never"]
            statuses = {r.when for r in positives}
            if len(statuses) != 1 or not statuses <= {"on_success", "always", "on_failure"}:
                raise Unsupported("when")
            status = statuses.pop()
            changes = {r.changes for r in positives}
            if len(changes) != 1:
                raise Unsupported("changes")
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
                raise Unsupported("alternatives")
            # The model takes variable conditions on config variables only (when-variables).
            if set(when.get("variables", {})) - self.config_variables:
                raise Unsupported("variables")
            globs = [g for k in ("branches", "tags") for g in when.get(k, [])]
            trees = [r.test for r in rules if r.test is not None]
            trees += [r.test for r in self.workflow_rules or [] if r.test is not None]
            envs = [
                e for e in scenarios([*trees], len(lists), [*globs, "**"]) if self.pipeline_runs(e)
            ]
            wanted = [outcome(rules, env) for env in envs]
            numbered = _numbered(lists)
            facts = [_Facts(env, numbered) for env in envs]
            for candidate in _variants(when):
                model = _when_model(candidate, None if paths is None else lists[paths])
                if model is None:
                    continue
                got = [status if when_holds(model, f, f.env) else None for f in facts]
                if got == wanted:
                    when = candidate
                    break
            else:
                raise Unsupported("not exact")
        except Unsupported:
            return None
        if paths is not None:
            when["paths"] = lists[paths]
        if status != "on_success":
            when["status"] = status
        return when

    @staticmethod
    def legacy(only: Any, except_: Any) -> list[dict[str, Any]] | None:
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

    def merge_requests(self, workflow_kept: bool) -> bool:
        """True when the pipeline may run for merge requests (``workflow_kept``: the file's
        workflow is kept verbatim for GitLab)."""
        if self.triggers is not None:
            return "pull_request" in self.triggers
        if not workflow_kept:
            return False
        if self.workflow_rules is None:
            return True
        trees = [r.test for r in self.workflow_rules if r.test is not None]
        try:
            envs = scenarios(trees, 0, [], ("merge_request_event",))
        except Unsupported:
            return True
        return any(outcome(self.workflow_rules, env) is not None for env in envs)
