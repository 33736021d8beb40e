"""GitHub semantics: a workflow reduced to its semantic form.

Job and step ``if:`` conditions are evaluated with a small reader of GitHub's expression
language on simulated events (``GITHUB_EVENTS``: the ``github`` context of each) and upstream
statuses; ``on:`` is compared after normalising its spellings. Steps are compared as run text
or as the action and its inputs; what the generator adds by design (the artifact tar steps,
the ``CICD_*`` exports, its own action pins and their fixed inputs, the step retry loop)
normalises away.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML

from codomyrmex.ci_cd_automation.translators import pins

from .common import Difference, Unparsable, canon, closure, compare, script_lines


def _load(text: str) -> Any:
    reader = YAML(typ="safe", pure=True)
    reader.allow_duplicate_keys = True
    docs = [d for d in reader.load_all(text) if d is not None]
    return docs[-1] if docs else {}


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
            raise Unparsable(text)
        tokens.append((m.lastgroup or "", m.group(m.lastgroup or 0)))
        pos = m.end()
    at = 0

    def peek() -> tuple[str, str] | None:
        return tokens[at] if at < len(tokens) else None

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal at
        tok = peek()
        if tok is None or (expected is not None and tok[1] != expected):
            raise Unparsable(text)
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
            raise Unparsable(text)
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
        raise Unparsable(text)
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
            except (Unparsable, IndexError, ValueError):
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
            out[event] = sorted(canon(x) for x in spec) if isinstance(spec, list) else spec
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
        return canon({k: _expr_text(v) if isinstance(v, str) else v for k, v in matrix.items()})
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
    return sorted(canon(c) for c in combos)


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
            lines = script_lines([body])
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
        renamed.append(canon(values))
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
        "needs": closure(graph),
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
    return compare(a, b)
