"""GitHub ``${{ }}`` expressions -> neutral templates, for the workflow importer.

Only forms with an exact neutral template are translated; anything else raises
``Untranslatable`` and its field stays verbatim in a hatch, rewritten (``native``) for renamed
axes and jobs. See docs/importing.md (GitHub workflows).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.notes import Path as NotePath
from ..model.pipeline import IDENT_PATTERN, RESERVED_VARIABLE_PREFIXES
from ..model.templates import TEMPLATE_RE
from .github_words import CI_FACTS, EVENT_NAMES
from .shell import rewrite_unquoted

# Receives one import note: native path, why, rule id.
NoteSink = Callable[[NotePath, str, str], None]

_IDENT = re.compile(IDENT_PATTERN)
# The facts whose GitHub expression is a plain dotted name, read back as ci.* facts
# (github.sha -> ci.sha...). branch and event are compound expressions on GitHub (head_ref,
# event_name tests): an expression found in a workflow has no exact inverse among them.
_PLAIN_FACTS = {fact: expr for fact, expr in CI_FACTS.items() if re.fullmatch(r"github\.\w+", expr)}
_FACTS = {expr: f"ci.{fact}" for fact, expr in _PLAIN_FACTS.items()}
# The same facts as GitHub's default environment variables, as the CICD_<FACT> variables the
# generator sets from them: GitHub documents GITHUB_SHA, GITHUB_REF, GITHUB_RUN_ID and
# GITHUB_WORKSPACE as the values of github.sha, .ref, .run_id and .workspace.
_RUNNER_FACTS = {
    "GITHUB_" + expr.partition(".")[2].upper(): "CICD_" + fact.upper()
    for fact, expr in _PLAIN_FACTS.items()
}
_RUNNER_FACT_RE = re.compile(r"\$(\{?)(" + "|".join(_RUNNER_FACTS) + r")(?!\w)(\}?)")
_RUNNER_VAR_RE = re.compile(r"\$\{?((?:GITHUB|RUNNER)_\w+)")
_NOTED_ELSEWHERE = frozenset({"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"})
# Job conditions: GitHub's status functions, and GitHub event -> neutral event (the
# generator's table read backwards).
_STATUS = {
    "success()": "on_success",
    "failure()": "on_failure",
    "always()": "always",
    "!cancelled()": "always",
}
_EVENTS = {native: neutral for neutral, native in EVENT_NAMES.items()}


def _runner_fact(m: re.Match[str]) -> str:
    return "$" + m.group(1) + _RUNNER_FACTS[m.group(2)] + m.group(3)


@dataclass
class Scope:
    """What a translated value may reference where it stands."""

    matrix: dict[str, str] = field(default_factory=dict)  # native axis -> neutral axis
    step: bool = False  # in a step's run/env/with
    secrets_ok: bool = False  # secrets allowed (run, env, with)
    outputs_only: bool = False  # job outputs: steps.* only


class Untranslatable(Exception):
    """An expression without a neutral template (internal: the field falls back)."""


def reason(exc: Untranslatable, rule: str) -> tuple[str, str]:
    """Why an expression did not translate, and the note rule."""
    body = str(exc.args[0]) if exc.args else ""
    if "secrets.GITHUB_TOKEN" in body or body.strip() == "github.token":
        return (
            "the GITHUB_TOKEN secret is GitHub's own token, with no neutral equivalent",
            "github-token",
        )
    return f'the expression "{body}" has no neutral form', rule


def _quoted_args(text: str) -> list[str] | None:
    args = [a.strip() for a in text.split(",")] if text.strip() else []
    out = []
    for arg in args:
        if len(arg) >= 2 and arg[0] == arg[-1] == "'" and "'" not in arg[1:-1]:
            out.append(arg[1:-1])
        else:
            return None
    return out or None


class ExpressionTranslator:
    """Translates the expressions of one workflow, knowing what the importer has read.

    Attributes:
        renames: native job id -> neutral job name (fixed for the workflow).
        variables: the workflow's neutral variables (``env.X`` of one is ``vars.X``).
        inputs: the names of the neutral manual inputs.
        secrets: the secrets the translated values use (collected; the importer declares them).
    """

    def __init__(self, renames: dict[str, str], note: NoteSink) -> None:
        self.renames = renames
        self.note = note
        self.variables: dict[str, Any] = {}
        self.inputs: set[str] = set()
        self.secrets: set[str] = set()

    def expr(self, body: str, scope: Scope) -> str:
        """The neutral template body of one ``${{ }}`` body; raises Untranslatable."""
        body = body.strip()
        hashed = re.fullmatch(r"hashFiles\((.*)\)", body, re.DOTALL)
        if hashed:
            globs = _quoted_args(hashed.group(1))
            if globs is None or scope.outputs_only:
                raise Untranslatable(body)
            return "hash(" + ", ".join(f"'{g}'" for g in globs) + ")"
        if body in _FACTS and not scope.outputs_only:
            return _FACTS[body]
        parts = body.split(".")
        if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", p) for p in parts):
            raise Untranslatable(body)
        ctx = parts[0]
        if scope.outputs_only and ctx != "steps":
            raise Untranslatable(body)
        if ctx == "matrix" and len(parts) == 2 and parts[1] in scope.matrix:
            return f"matrix.{scope.matrix[parts[1]]}"
        if ctx == "env" and len(parts) == 2 and _IDENT.match(parts[1]):
            if parts[1] in self.variables:
                return f"vars.{parts[1]}"
            if scope.step:
                return body
        secret = ctx == "secrets" and len(parts) == 2 and _IDENT.match(parts[1]) is not None
        if secret and scope.secrets_ok and not parts[1].startswith(RESERVED_VARIABLE_PREFIXES):
            # GITHUB_TOKEN and friends are provided by GitHub, not declared secrets.
            self.secrets.add(parts[1])
            return body
        if ctx == "inputs" and len(parts) == 2 and parts[1] in self.inputs:
            return body
        if parts[:3] == ["github", "event", "inputs"] and parts[3:] and parts[3] in self.inputs:
            return f"inputs.{parts[3]}"
        needs = ctx == "needs" and len(parts) == 4 and parts[2] == "outputs"
        if needs and scope.step and parts[1] in self.renames:
            return f"needs.{self.renames[parts[1]]}.outputs.{parts[3]}"
        if ctx == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return body
        raise Untranslatable(body)

    def value(self, value: Any, scope: Scope) -> Any:
        """A scalar with its templates translated; raises Untranslatable."""
        if isinstance(value, bool | int | float):
            return value
        if not isinstance(value, str):
            raise Untranslatable(repr(value))
        if "${{" not in value:
            return value
        out = []
        pos = 0
        for match in TEMPLATE_RE.finditer(value):
            out.append(value[pos : match.start()])
            out.append("${{ " + self.expr(match.group(1), scope) + " }}")
            pos = match.end()
        rest = value[pos:]
        if "${{" in rest:
            raise Untranslatable(rest)
        return "".join(out) + rest

    def try_value(self, value: Any, scope: Scope) -> tuple[bool, Any]:
        """``(True, value(...))``, or ``(False, None)`` when it is untranslatable."""
        try:
            return True, self.value(value, scope)
        except Untranslatable:
            return False, None

    def translate_tree(self, spec: Any, scope: Scope) -> Any:
        """Every scalar of ``spec`` translated; raises Untranslatable."""
        if isinstance(spec, dict):
            return {k: self.translate_tree(v, scope) for k, v in spec.items()}
        if isinstance(spec, list):
            return [self.translate_tree(v, scope) for v in spec]
        return self.value(spec, scope)

    def native(self, value: Any, scope: Scope, *, expression: bool = False) -> Any:
        """A value kept for GitHub, with renamed matrix axes and job ids written anew.

        ``expression``: the whole text is an expression (an ``if:``), not only ``${{ }}``.
        """
        if isinstance(value, dict):
            return {k: self.native(v, scope) for k, v in value.items()}
        if isinstance(value, list):
            return [self.native(v, scope) for v in value]
        if not isinstance(value, str):
            return value
        if expression and "${{" not in value:
            return self._renamed(value, scope)
        return TEMPLATE_RE.sub(lambda m: "${{" + self._renamed(m.group(1), scope) + "}}", value)

    def _renamed(self, text: str, scope: Scope) -> str:
        for old, new in scope.matrix.items():
            if old != new:
                text = re.sub(rf"\bmatrix\.{re.escape(old)}(?![\w-])", f"matrix.{new}", text)
        for old, new in self.renames.items():
            if old != new:
                text = re.sub(rf"\bneeds\.{re.escape(old)}(?=\.)", f"needs.{new}", text)
        return text

    def runner_facts(self, script: str, path: NotePath) -> str:
        """GitHub's default environment variables in a script, as the neutral facts.

        ``$GITHUB_SHA``, ``$GITHUB_REF``, ``$GITHUB_RUN_ID`` and ``$GITHUB_WORKSPACE`` become
        ``$CICD_SHA``, ``$CICD_REF``, ``$CICD_RUN_ID`` and ``$CICD_WORKSPACE``, which every
        backend sets (GitHub: from those very values). Single-quoted text stays literal.
        Other ``GITHUB_*``/``RUNNER_*`` variables are noted: other providers leave them
        empty (``GITHUB_OUTPUT``/``ENV``/``PATH``/``STEP_SUMMARY`` have their own notes).
        """
        lines = [
            rewrite_unquoted(line, _RUNNER_FACT_RE, _runner_fact) for line in script.split("\n")
        ]
        others = sorted(
            {
                m.group(1)
                for line in lines
                for part in re.split(r"'[^']*'", line)
                for m in _RUNNER_VAR_RE.finditer(part)
                if m.group(1) not in _NOTED_ELSEWHERE
            }
        )
        if others:
            self.note(
                path,
                f"the script reads GitHub's runner variables ({', '.join(others)}), which "
                "other providers do not set",
                "github-variables",
            )
        return "\n".join(lines)


def condition(value: Any) -> dict[str, Any] | None:
    """A neutral ``when`` for the common ``if:`` forms (a conjunction of known tests)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    if match:
        text = match.group(1).strip()
    if "||" in text or "(" in text.replace("()", "").replace("startsWith(", ""):
        return None
    when: dict[str, Any] = {}
    for raw in text.split("&&"):
        part = raw.strip()
        if part in _STATUS:
            if "status" in when:
                return None
            when["status"] = _STATUS[part]
            continue
        m = re.fullmatch(r"github\.ref\s*==\s*'refs/heads/([^']+)'", part)
        if m and "branches" not in when:
            when["branches"] = [m.group(1)]
            continue
        m = re.fullmatch(r"github\.ref\s*==\s*'refs/tags/([^']+)'", part)
        if m and "tags" not in when:
            when["tags"] = [m.group(1)]
            continue
        m = re.fullmatch(r"startsWith\(\s*github\.ref\s*,\s*'refs/tags/([^'*]*)'\s*\)", part)
        if m and "tags" not in when:
            when["tags"] = [m.group(1) + "**"]
            continue
        m = re.fullmatch(r"github\.event_name\s*==\s*'([a-z_]+)'", part)
        if m and m.group(1) in _EVENTS and "events" not in when:
            when["events"] = [_EVENTS[m.group(1)]]
            continue
        return None
    return when or None
