"""Property test: every valid neutral pipeline renders to files the providers accept.

A hypothesis strategy builds random *valid* neutral pipelines as plain Python data (the
shape ``create_pipeline`` takes) and every rendering is held to:

* the providers' published JSON schemas, the very files ``check-jsonschema`` ships
  (``builtin_schemas/vendor/github-workflows.json`` and ``gitlab-ci.json``), validated
  in-process with ``jsonschema`` the way ``check-jsonschema`` does it: the Draft class named
  by the schema's ``$schema``, its format checker, ECMAScript regexes for ``pattern`` (via
  ``regress``, as ``--regex-variant default``), YAML loaded safe with timestamps as strings;
* determinism: rendering twice (the second time from a new pipeline object made of the same
  data) gives the same bytes;
* GitHub: no ``${{`` in any ``run:`` (templates travel through ``env:``), no ``secrets.X``
  in a ``run:``, every ``uses:`` pinned to a 40-hex commit SHA, one job per neutral job,
  ``needs`` naming existing jobs, one service per neutral service, job ids, service names and
  step ids unique as GitHub compares them (ignoring case);
* GitHub expressions: only GitHub contexts and functions (no neutral ``ci.``/``hash()``
  left over, no ``vars.``: neutral variables are written as values), each where GitHub
  allows it (``hashFiles()`` in steps only, ``env``/``steps``/``runner`` in steps and job
  outputs only);
* GitLab: no ``!reference`` tag (so ``--data-transform gitlab-ci`` would change nothing;
  the plain safe loader used here would refuse any tag), a job per neutral job whose
  ``stage`` is listed, ``needs`` naming existing jobs of the same or an earlier stage, no
  ``${{`` anywhere (every template translated), no secret in the file, and the file means
  the same to a YAML 1.1 reader (GitLab reads it with Ruby's Psych, where ``yes``/``on``/
  ``1:20`` are not strings) as to a YAML 1.2 reader;
* both files load with libyaml too (the parser inside GitLab's Psych, as strict as
  actionlint's), and every ``steps.<id>`` a GitHub expression names is a step of the job;
* values survive the trip through YAML: a job's plain (template-free) ``env`` values come
  back byte for byte on both providers.

The strategy deliberately keeps producing inputs that once broke these properties (see the
``test_regression_*`` tests at the end for the minimal reproducers), so a fix is proven by
this file going green, and a regression turns it red again.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import operator
import re
import string
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError

from codomyrmex.ci_cd_automation import PipelineValidationError, create_pipeline, render
from codomyrmex.ci_cd_automation.model.pipeline import (
    GITLAB_RESERVED_JOB_NAMES,
    RESERVED_VARIABLE_PREFIXES,
)
from codomyrmex.ci_cd_automation.model.templates import CI_FACTS

# pyproject turns every warning into an error. When a hypothesis test fails, hypothesis'
# pytest plugin imports its patch writer (libcst -> mypy_extensions), whose import warns
# (DeprecationWarning) and would turn a plain test failure into a pytest INTERNALERROR.
# Importing it once here, with that warning ignored, keeps failures readable.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401

GITHUB_SCHEMA = "github-workflows.json"
GITLAB_SCHEMA = "gitlab-ci.json"
SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")

# --------------------------------------------------------------------------------------
# schemas and YAML, the way check-jsonschema reads them


def _vendor_schema(name: str) -> dict[str, Any]:
    folder = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    return json.loads((folder / name).read_text(encoding="utf-8"))


def _ecmascript_patterns(cls: Any) -> Any:
    """``cls`` with ``pattern``/``patternProperties`` matched as ECMAScript regexes.

    check-jsonschema's default ``--regex-variant`` uses ``regress`` (Rust, ECMAScript
    syntax, unicode mode); Python's ``re`` differs in details (``$`` before a final newline),
    so the same engine is used here.
    """
    import regress

    cache: dict[str, Any] = {}

    def compiled(pattern: str) -> Any:
        if pattern not in cache:
            cache[pattern] = regress.Regex(pattern, flags="u")
        return cache[pattern]

    def pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not compiled(pattern).find(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    def pattern_properties(
        validator: Any, properties: dict[str, Any], instance: Any, schema: Any
    ) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        for pattern, subschema in properties.items():
            for key, value in instance.items():
                if compiled(pattern).find(key):
                    yield from validator.descend(value, subschema, path=key, schema_path=pattern)

    return jsonschema.validators.extend(
        cls, {"pattern": pattern_keyword, "patternProperties": pattern_properties}
    )


@functools.cache
def schema_validator(name: str) -> Any:
    schema = _vendor_schema(name)
    cls = validator_for(schema, default=None)
    assert cls is not None, f"{name}: unknown $schema {schema.get('$schema')!r}"
    cls.check_schema(schema)
    return _ecmascript_patterns(cls)(schema, format_checker=cls.FORMAT_CHECKER)


class _TimestampsAsStrings(SafeConstructor):
    """check-jsonschema's instance constructor: YAML timestamps stay strings (JSON has none).

    ``add_constructor`` gives this subclass its own table; ruamel's SafeConstructor (and the
    loaders of the code under test) are left as they are.
    """


_TimestampsAsStrings.add_constructor(
    "tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str
)


def _yaml_12() -> YAML:
    """check-jsonschema's instance loader: safe, YAML 1.2, timestamps kept as strings."""
    yaml = YAML(typ="safe")
    yaml.Constructor = _TimestampsAsStrings
    return yaml


_LOAD_12 = _yaml_12()


def load_12(text: str) -> Any:
    return _LOAD_12.load(text)


def libyaml_error(text: str) -> str | None:
    """Why libyaml refuses ``text``, or None.

    libyaml is the parser inside Ruby's Psych, which reads ``.gitlab-ci.yml``, and is as
    strict as the Go parser of actionlint; it refuses some documents ruamel accepts (a
    literal block whose first line starts with a tab). PyYAML comes with ``responses``.
    """
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:  # PyYAML built without libyaml: nothing to compare with
        return None
    try:
        yaml.load(text, Loader=loader)  # CSafeLoader: the safe one
    except yaml.YAMLError as exc:
        return " ".join(str(exc).split())[:200]
    return None


def load_11(text: str) -> Any:
    """The document as a YAML 1.1 reader (GitLab's Psych) sees it."""
    return YAML(typ="safe").load("%YAML 1.1\n---\n" + text)


def schema_errors(name: str, data: Any) -> list[str]:
    """One line per schema violation, naming the most specific failing subschema."""
    out = []
    for error in sorted(schema_validator(name).iter_errors(data), key=lambda e: list(e.path)):
        cause = _deepest(error)
        where = "/".join(map(str, cause.absolute_path)) or "<root>"
        out.append(f"{where}: {cause.message[:300]}")
    return out


def _deepest(error: Any) -> Any:
    """The failing leaf of a oneOf/anyOf that got furthest into the instance."""
    if not error.context:
        return error
    return max((_deepest(e) for e in error.context), key=lambda e: len(e.absolute_path))


# Booleans of the YAML 1.1 spec that Psych (GitLab's parser) still reads as strings.
PSYCH_STRINGS = frozenset({"y", "Y", "n", "N"})


def yaml_11_differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where the YAML 1.2 tree ``a`` and the YAML 1.1 tree ``b`` of one file disagree.

    yes/no/on/off, sexagesimal ``1:20``, ``0``-prefixed octals, ``_`` in numbers... are
    read as other types by GitLab; ``y``/``n`` are not (``PSYCH_STRINGS``).
    """
    if isinstance(a, str) and a in PSYCH_STRINGS and b == (a in ("y", "Y")):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key, value in a.items():
            psych_key = key in ("y", "Y") if key in PSYCH_STRINGS else key
            other = key if key in b else psych_key
            if other not in b:
                out.append(f"{where}/{key}: this key is another key for YAML 1.1")
            else:
                out += yaml_11_differences(value, b[other], f"{where}/{key}")
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} keys for YAML 1.2, {len(b)} for YAML 1.1")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in yaml_11_differences(x, y, f"{where}/{i}")
        ]
    if type(a) is not type(b) or a != b:
        return [f"{where}: {a!r} (YAML 1.2) is {b!r} in YAML 1.1"]
    return []


# --------------------------------------------------------------------------------------
# the strategy: random valid neutral pipelines as plain data
#
# Helpers take hypothesis' ``draw`` and return plain data; strategies are module constants,
# so no strategy is built per example (that, and from_regex, made generation slow).

# Text a user might put in a script or value, biased to what YAML and shells find hard.
# fmt: off
TRICKY = (
    "yes", "on", "No", "OFF", "y", "1:20", "3.10", "010", "0x1F", "1_000", "1e3", ".inf",
    "null", "~", "true", "2001-12-14", "<<", "=", "- x", "a: b", "a #b", "#c", "!tag", "&a",
    "*a", "%x", "@x", "`x`", "'", '"', "{a: 1}", "[a]", "|", ">", "? x", "  ", "\t", "\n",
    "\n\n", "\r\n", "\r", "\x1b[1m", "\x00", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff",
    "\ufffe", "é", "日本", "😀", "$HOME", "${HOME}", "$CICD_SHA", "{{ x }}", "}}", "\\",
    "a\\nb", "echo hi", "make -j4 test", "python -c 'print(1)'",
)
# fmt: on
_SHELLISH = st.sampled_from(
    list(string.ascii_letters + string.digits + " -_:#'\"{}[]|>&*!%@`,?$\\/.=\t\n")
)
_LITERAL_PIECE = st.one_of(
    st.text(_SHELLISH, max_size=10),
    st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=4),
)
LITERAL = st.lists(_LITERAL_PIECE, max_size=3).map("".join).filter(lambda s: "${{" not in s)


def _word(first: str, rest: str, max_size: int) -> Any:
    return st.builds(
        operator.add, st.sampled_from(first), st.text(st.sampled_from(rest), max_size=max_size)
    )


_LETTERS = string.ascii_letters + "_"
_IDENT_CHARS = string.ascii_letters + string.digits + "_"
PLAIN = _word(string.ascii_letters + string.digits, _IDENT_CHARS + "./-", 10)
IDENT = _word(_LETTERS, _IDENT_CHARS, 8).filter(
    lambda s: not s.startswith(RESERVED_VARIABLE_PREFIXES)
)
VAR_NAME = st.one_of(st.sampled_from(["PYTHON_VERSION", "TARGET", "MODE", "A", "b", "_x"]), IDENT)
JOB_NAME = st.one_of(
    # case variants, which must stay apart (unique_names compares ignoring case)
    st.sampled_from(["build", "Build", "test", "TEST", "lint", "deploy", "pages", "on", "yes"]),
    _word(_LETTERS, _IDENT_CHARS + "-", 12),
).filter(lambda s: s not in GITLAB_RESERVED_JOB_NAMES)
STEP_ID = st.one_of(
    st.sampled_from(["ver", "Ver", "meta", "out"]), _word(_LETTERS, _IDENT_CHARS + "-", 8)
)
OUTPUT_KEY = _word(_LETTERS, _IDENT_CHARS + "-", 6)
STAGE_NAME = st.one_of(
    st.sampled_from(["build", "test", "deploy", "on", "1.0", ".", "-x", "true"]),
    st.text(st.sampled_from(_IDENT_CHARS + ".-"), min_size=1, max_size=10),
)
PIPELINE_NAME = st.one_of(
    st.sampled_from(["web-app", "1.0", "on", "null", "a.b"]),
    st.text(st.sampled_from(_IDENT_CHARS + ".-"), min_size=1, max_size=20),
)
AXIS = st.one_of(st.sampled_from(["os", "python", "node", "arch", "shard"]), IDENT).filter(
    lambda s: s not in ("include", "exclude")
)
GLOB = st.one_of(
    st.sampled_from(["requirements.txt", "**/package-lock.json", "go.sum", "poetry.lock"]),
    st.text(st.sampled_from(_IDENT_CHARS + ".*/-"), min_size=1, max_size=12),
)
SHA = st.text(st.sampled_from("0123456789abcdef"), min_size=40, max_size=40)
DURATION = st.builds(lambda n, u: f"{n}{u}", st.integers(1, 400), st.sampled_from("mhdw"))
SECONDS = st.integers(1, 7 * 24 * 3600)
STATUS = st.sampled_from(["on_success", "on_failure", "always"])
SCALAR_NO_TEMPLATE = st.one_of(
    LITERAL,
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
RETRY = st.fixed_dictionaries(
    {"max_attempts": st.integers(1, 10)},
    optional={
        "on": st.lists(
            st.sampled_from(["any", "script_failure", "timeout", "runner_failure"]),
            max_size=3,
            unique=True,
        )
    },
)
PATTERNS = st.lists(  # None means "any"; an empty list is refused
    st.one_of(st.sampled_from(["main", "release/*", "v*", "!wip", "**"]), PLAIN),
    min_size=1,
    max_size=2,
)
# Job conditions cannot negate (rule when-negation); triggers can.
JOB_PATTERNS = st.lists(
    st.one_of(st.sampled_from(["main", "release/*", "v*", "**"]), PLAIN),
    min_size=1,
    max_size=2,
)
CHECKOUT = st.fixed_dictionaries(
    {},
    optional={
        "depth": st.integers(0, 50),
        "submodules": st.sampled_from([True, False, "recursive"]),
        "lfs": st.booleans(),
    },
)
EVENTS = st.lists(
    st.sampled_from(["push", "pull_request", "schedule", "manual"]),
    min_size=1,
    max_size=2,
    unique=True,
)
CRONS = st.lists(
    st.sampled_from(["0 3 * * 1", "*/15 * * * *", "0 0 1 1 *", "30 2 * * MON-FRI"]),
    min_size=1,
    max_size=2,
)
PERMISSION_SCOPES = ["actions", "checks", "contents", "deployments", "id-token", "issues",
                     "packages", "pages", "pull-requests", "statuses"]  # fmt: skip


def pick(draw: Any, items: Sequence[Any]) -> Any:
    return items[draw(st.integers(0, len(items) - 1))]


def chance(draw: Any, one_in: int) -> bool:
    """True one time in ``one_in``; False when shrunk, so failing examples shrink to less."""
    return draw(st.integers(0, one_in - 1)) == one_in - 1


def some(draw: Any, make: Callable[[], Any], low: int, high: int) -> list[Any]:
    return [make() for _ in range(draw(st.integers(low, high)))]


def unique_names(
    draw: Any, strategy: Any, low: int, high: int, avoid: Collection[str] = ()
) -> list[str]:
    """Names distinct even ignoring case (GitHub ignores it in ids), none in ``avoid``.

    Names in ``avoid`` are dropped, so there may be fewer than ``low`` of them then.
    """
    names = draw(st.lists(strategy, min_size=low, max_size=high, unique_by=str.lower))
    return [n for n in names if n not in avoid]


@dataclass
class Scope:
    """What templates may name at one place of the pipeline."""

    variables: list[str]
    secrets: list[str]
    inputs: list[str]
    matrix: list[str] = field(default_factory=list)
    needs_outputs: list[tuple[str, str]] = field(default_factory=list)
    step_ids: list[str] = field(default_factory=list)  # ids of the steps before this one

    def contexts(self, kind: str) -> list[str]:
        """The contexts allowed in a field of ``kind``.

        kind: ``step`` (run, step env, with), ``jobenv`` (job env), ``job`` (image,
        runs_on, services, environment, cache, artifact paths, setup versions), ``output``.
        """
        if kind == "output":
            return ["steps"] if self.step_ids else []
        out = ["ci", "hash"]
        out += [
            c
            for c, there in (
                ("matrix", self.matrix),
                ("vars", self.variables),
                ("inputs", self.inputs),
            )
            if there
        ]
        if kind == "job":
            return out
        if kind == "step":  # GitHub has no env context outside steps
            out.append("env")
        out += [
            c for c, there in (("secrets", self.secrets), ("needs", self.needs_outputs)) if there
        ]
        if kind == "step" and self.step_ids:
            out.append("steps")
        return out

    def expression(self, draw: Any, context: str) -> str:
        if context == "ci":
            return f"ci.{pick(draw, CI_FACTS)}"
        if context == "hash":
            return hash_call(draw)
        if context == "env":
            return f"env.{draw(IDENT)}"
        if context == "needs":
            job, output = pick(draw, self.needs_outputs)
            return f"needs.{job}.outputs.{output}"
        if context == "steps":
            return f"steps.{pick(draw, self.step_ids)}.outputs.{draw(OUTPUT_KEY)}"
        names = {
            "matrix": self.matrix,
            "vars": self.variables,
            "inputs": self.inputs,
            "secrets": self.secrets,
        }[context]
        return f"{context}.{pick(draw, names)}"


def hash_call(draw: Any) -> str:
    globs = [g for g in some(draw, lambda: draw(GLOB), 1, 3) if "'" not in g] or ["x"]
    return "hash(" + ", ".join(f"'{g}'" for g in globs) + ")"


def templated(draw: Any, scope: Scope, kind: str, nonempty: bool = True) -> str:
    """Text mixing literals and ``${{ }}`` templates allowed for ``kind``."""
    contexts = scope.contexts(kind)
    pieces: list[str] = []
    after_literal = False  # two literals in a row could make a "${{" between them
    for _ in range(draw(st.integers(0, 3))):
        if not after_literal:
            pieces.append(draw(LITERAL))
            after_literal = True
        if contexts and draw(st.booleans()):
            pad = pick(draw, ["", " ", "  "])
            pieces.append("${{" + pad + scope.expression(draw, pick(draw, contexts)) + pad + "}}")
            after_literal = False
    text = "".join(pieces)
    return text if text or not nonempty else draw(PLAIN)


def scalar(draw: Any, scope: Scope, kind: str) -> Any:
    return (
        templated(draw, scope, kind, nonempty=False)
        if draw(st.booleans())
        else draw(SCALAR_NO_TEMPLATE)
    )


def env_map(draw: Any, scope: Scope, kind: str, high: int = 3) -> dict[str, Any]:
    # A matrix axis and an env variable of one name would hide each other (rejected).
    names = unique_names(draw, VAR_NAME, 0, high, avoid=scope.matrix)
    return {k: scalar(draw, scope, kind) for k in names}


def matrix(draw: Any, avoid: Collection[str]) -> dict[str, Any]:
    """A matrix whose axes (and include keys) are none of the pipeline-wide names."""
    axes = {
        axis: draw(st.lists(SCALAR_NO_TEMPLATE, min_size=1, max_size=3, unique_by=repr))
        for axis in unique_names(draw, AXIS, 0, 3, avoid)
    }
    out: dict[str, Any] = dict(axes)
    keys = [*axes, *unique_names(draw, AXIS, 0, 2, avoid)]
    if not keys:
        keys = [next(f"shard{i}" for i in range(len(avoid) + 1) if f"shard{i}" not in avoid)]
    include = [
        {
            k: draw(SCALAR_NO_TEMPLATE)
            for k in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
        }
        for _ in range(draw(st.integers(0 if axes else 1, 2)))
    ]
    if include:
        out["include"] = include
    values = [v for vs in axes.values() for v in vs]
    exclude = [
        {
            k: pick(draw, values) if draw(st.booleans()) else draw(SCALAR_NO_TEMPLATE)
            for k in draw(
                st.lists(st.sampled_from(list(axes)), min_size=1, max_size=2, unique=True)
            )
        }
        for _ in range(draw(st.integers(0, 2) if axes else st.just(0)))
    ]
    if exclude:
        out["exclude"] = exclude
    return out


def matrix_keys(matrix: dict[str, Any] | None) -> list[str]:
    if not matrix:
        return []
    keys = dict.fromkeys(k for k in matrix if k not in ("include", "exclude"))
    for entry in matrix.get("include", []):
        keys.update(dict.fromkeys(entry))
    return list(keys)


def cache_spec(draw: Any, scope: Scope) -> dict[str, Any]:
    prefix = templated(draw, scope, "job", nonempty=False)
    hashed = "${{ " + hash_call(draw) + " }}"
    spec: dict[str, Any] = {
        "key": pick(draw, [prefix + hashed, hashed + prefix, prefix or hashed]),
        "paths": some(draw, lambda: templated(draw, scope, "job"), 1, 2),
    }
    if draw(st.booleans()):
        spec["restore_keys"] = some(draw, lambda: templated(draw, scope, "job"), 1, 2)
    if draw(st.booleans()):
        spec["policy"] = pick(draw, ["pull-push", "pull", "push"])
    return spec


def artifacts(draw: Any, scope: Scope) -> dict[str, Any]:
    spec: dict[str, Any] = {"paths": some(draw, lambda: templated(draw, scope, "job"), 1, 2)}
    if draw(st.booleans()):
        spec["expire_in"] = draw(DURATION)
    if draw(st.booleans()):
        spec["when"] = draw(STATUS)
    return spec


def environment(draw: Any, scope: Scope) -> Any:
    name = templated(draw, scope, "job")
    if draw(st.booleans()):
        return name
    spec = {"name": name}
    if draw(st.booleans()):
        # absolute, or starting with a template that yields an absolute URL
        rest = templated(draw, scope, "job", nonempty=False).replace("\n", " ")  # one line
        if draw(st.booleans()):
            spec["url"] = f"{pick(draw, ['https', 'http'])}://{draw(PLAIN)}{rest}"
        else:
            spec["url"] = "${{ " + scope.expression(draw, pick(draw, scope.contexts("job"))) + " }}"
            spec["url"] += rest
    return spec


def steps(draw: Any, scope: Scope, deps: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ids: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        here = Scope(
            scope.variables,
            scope.secrets,
            scope.inputs,
            scope.matrix,
            scope.needs_outputs,
            list(ids),
        )
        kind = pick(
            draw, ["run", "run", "run", "checkout", "setup", "cache", "upload", "download", "uses"]
        )
        step: dict[str, Any]
        if kind == "run":
            step = {"run": templated(draw, here, "step")}
            if draw(st.booleans()):
                step["env"] = env_map(draw, here, "step")
            if chance(draw, 5):
                step["shell"] = pick(draw, ["bash", "sh", "pwsh", "python"])
            if chance(draw, 5):
                step["working_directory"] = draw(PLAIN)
            if chance(draw, 5):
                step["timeout"] = draw(SECONDS)
            if chance(draw, 5):
                step["continue_on_error"] = True
        elif kind == "checkout":
            step = {"checkout": draw(CHECKOUT)}
        elif kind == "setup":
            tools = draw(
                st.lists(
                    st.sampled_from(["python", "node", "go"]), min_size=1, max_size=3, unique=True
                )
            )
            step = {"setup": {t: templated(draw, here, "job") for t in tools}}
        elif kind == "cache":
            step = {"cache": cache_spec(draw, here)}
        elif kind == "upload":
            step = {"upload_artifact": artifacts(draw, here)}
        elif kind == "download" and deps:
            step = {"download_artifact": {"job": pick(draw, deps)}}
            if draw(st.booleans()):
                step["download_artifact"]["path"] = draw(PLAIN)
        else:
            step = {"uses": f"{pick(draw, ['acme/tool', 'org/repo/sub'])}@{draw(SHA)}"}
            if draw(st.booleans()):
                step["with"] = {
                    k: scalar(draw, here, "step") for k in unique_names(draw, OUTPUT_KEY, 0, 2)
                }
            if draw(st.booleans()):
                step["env"] = env_map(draw, here, "step", 2)
            if draw(st.booleans()):
                step["gitlab"] = {"run": templated(draw, here, "step")}
        if draw(st.booleans()):
            step["name"] = draw(LITERAL)
        if draw(st.booleans()):
            step_id = draw(STEP_ID)
            if step_id.lower() not in [i.lower() for i in ids]:
                step["id"] = step_id
                ids.append(step_id)
        out.append(step)
    return out


def triggers(draw: Any, avoid: Collection[str]) -> tuple[dict[str, Any], list[str]]:
    """``config.triggers`` (possibly empty: the default is push) and the manual input names."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        push: dict[str, Any] = {}
        for key in ("branches", "tags", "paths"):
            if draw(st.booleans()):
                push[key] = draw(PATTERNS)
        out["push"] = push or None
    if draw(st.booleans()):
        out["pull_request"] = {
            k: draw(PATTERNS) for k in ("branches", "paths") if draw(st.booleans())
        }
    if draw(st.booleans()):
        out["schedule"] = draw(CRONS)
    inputs: dict[str, Any] = {}
    if draw(st.booleans()):
        for name in unique_names(draw, VAR_NAME, 0, 3, avoid):
            spec: dict[str, Any] = {}
            kind = pick(draw, [None, "string", "boolean", "choice", "number"])
            if kind == "choice" or (kind is None and draw(st.booleans())):
                spec["options"] = unique_names(draw, PLAIN, 1, 3)
                if draw(st.booleans()):
                    spec["default"] = pick(draw, spec["options"])
            elif kind == "boolean" and draw(st.booleans()):
                spec["default"] = draw(st.booleans())
            elif kind == "number" and draw(st.booleans()):
                spec["default"] = draw(st.integers(-100, 100))
            elif kind in (None, "string") and draw(st.booleans()):
                spec["default"] = draw(LITERAL)
            if kind:
                spec["type"] = kind
            if draw(st.booleans()):
                spec["description"] = draw(LITERAL)
            if draw(st.booleans()):
                spec["required"] = draw(st.booleans())
            inputs[name] = spec
        out["manual"] = {"inputs": inputs} if inputs or draw(st.booleans()) else None
    return out, list(inputs)


def job(
    draw: Any,
    name: str,
    base: Scope,
    earlier: list[str],
    stage_deps: list[str],
    jobs_of: dict[str, list[str]],
    outputs_of: dict[str, list[str]],
    when_vars: list[str],
) -> dict[str, Any]:
    needs = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
    deps = list(dict.fromkeys([j for s in stage_deps for j in jobs_of[s]] + needs))
    out: dict[str, Any] = {"name": name}
    if needs:
        out["needs"] = needs
    if chance(draw, 3):
        out["matrix"] = matrix(draw, [*base.variables, *base.inputs, *base.secrets])
    scope = Scope(
        base.variables,
        base.secrets,
        base.inputs,
        matrix_keys(out.get("matrix")),
        [(d, o) for d in deps for o in outputs_of.get(d, [])],
    )
    if chance(draw, 4):
        out["image"] = templated(draw, scope, "job")
    if chance(draw, 4):
        out["runs_on"] = pick(
            draw,
            [
                lambda: pick(draw, ["linux", "windows", "macos"]),
                lambda: templated(draw, scope, "job"),
                lambda: some(draw, lambda: templated(draw, scope, "job"), 1, 2),
            ],
        )()
    if draw(st.booleans()):
        out["env"] = env_map(draw, scope, "jobenv")
    if base.secrets and draw(st.booleans()):
        out["secrets"] = draw(st.lists(st.sampled_from(base.secrets), max_size=2, unique=True))
    if chance(draw, 4):
        services = []
        # distinct aliases ignoring case (the model refuses repeats, as GitHub does)
        for alias in draw(
            st.lists(JOB_NAME, min_size=1, max_size=2, unique_by=lambda a: a.lower())
        ):
            service: dict[str, Any] = {"image": templated(draw, scope, "job"), "alias": alias}
            if draw(st.booleans()):
                service["env"] = env_map(draw, scope, "job", 2)
            if draw(st.booleans()):
                service["ports"] = draw(st.lists(st.integers(1, 65535), max_size=2))
            services.append(service)
        out["services"] = services
    if chance(draw, 3):
        out["artifacts"] = artifacts(draw, scope)
    if chance(draw, 3):
        out["cache"] = cache_spec(draw, scope)
    out["steps"] = steps(draw, scope, deps)
    ids = [s["id"] for s in out["steps"] if "id" in s]
    if ids and draw(st.booleans()):
        outputs = {}
        for key in unique_names(draw, IDENT, 1, 2):
            text = templated(draw, Scope([], [], [], step_ids=ids), "output")
            outputs[key] = text if "${{" in text else f"{text}${{{{ steps.{ids[0]}.outputs.v }}}}"
        out["outputs"] = outputs
        outputs_of[name] = list(outputs)
    if chance(draw, 4):
        out["timeout"] = draw(SECONDS)
    if chance(draw, 4):
        out["retry_policy"] = draw(RETRY)
    if chance(draw, 4):
        out["allow_failure"] = draw(st.booleans())
    if chance(draw, 3):
        when: dict[str, Any] = {}
        for key in ("branches", "tags", "paths"):
            if chance(draw, 3):
                when[key] = draw(JOB_PATTERNS if key != "paths" else PATTERNS)
        if chance(draw, 3):
            when["events"] = draw(EVENTS)
        if draw(st.booleans()):
            # an on_failure job must depend on something
            when["status"] = pick(
                draw, ["on_success", "always", *(["on_failure", "on_failure"] if deps else [])]
            )
        if when_vars and chance(draw, 3):
            when["variables"] = {
                k: draw(LITERAL)
                for k in draw(st.lists(st.sampled_from(when_vars), max_size=2, unique=True))
            }
        out["when"] = when
    if chance(draw, 4):
        out["environment"] = environment(draw, scope)
    return out


@st.composite
def pipelines(draw: Any) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """``(name, stages, config)`` for ``create_pipeline``, always valid."""
    name = draw(PIPELINE_NAME)
    # Variables, inputs and secrets all become environment variables: one name, one owner.
    variables = {k: draw(SCALAR_NO_TEMPLATE) for k in unique_names(draw, VAR_NAME, 0, 3)}
    trigger_map, inputs = triggers(draw, avoid=list(variables))
    secrets = unique_names(
        draw,
        st.one_of(st.sampled_from(["PYPI_TOKEN", "TOKEN"]), IDENT),
        0,
        3,
        avoid=[*variables, *inputs],
    )
    config: dict[str, Any] = {}
    if variables:
        config["variables"] = variables
    if secrets:
        config["secrets"] = secrets
    if trigger_map or draw(st.booleans()):
        config["triggers"] = trigger_map or {"push": None}
    if draw(st.booleans()):
        defaults: dict[str, Any] = {}
        if draw(st.booleans()):
            defaults["runs_on"] = pick(
                draw,
                [
                    lambda: pick(draw, ["linux", "windows", "macos"]),
                    lambda: draw(PLAIN),
                    lambda: draw(
                        st.lists(
                            st.sampled_from(["linux", "self-hosted", "gpu"]), min_size=1, max_size=2
                        )
                    ),
                ],
            )()
        if draw(st.booleans()):
            defaults["image"] = pick(draw, [None, "python:3.12", "alpine"])
        if draw(st.booleans()):
            defaults["timeout"] = draw(SECONDS)
        config["defaults"] = defaults
    if draw(st.booleans()):
        permissions = {
            k: pick(draw, ["read", "write", "none"])
            for k in draw(st.lists(st.sampled_from(PERMISSION_SCOPES), max_size=3, unique=True))
        }
        if permissions.get("id-token") == "read":
            permissions["id-token"] = "write"
        config["permissions"] = permissions

    base = Scope(list(variables), secrets, inputs)
    stage_names = unique_names(draw, STAGE_NAME, 1, 3)
    sizes = [draw(st.integers(1, 3)) for _ in stage_names]
    names = iter(unique_names(draw, JOB_NAME, sum(sizes), sum(sizes)))
    earlier: list[str] = []  # the jobs before the one being built, in file order
    jobs_of: dict[str, list[str]] = {}
    outputs_of: dict[str, list[str]] = {}
    stages: list[dict[str, Any]] = []
    for si, stage_name in enumerate(stage_names):
        stage: dict[str, Any] = {"name": stage_name}
        stage_deps: list[str] = []
        if si and draw(st.booleans()):
            # mostly the previous stage, sometimes more of the earlier ones
            stage_deps = list(
                dict.fromkeys(
                    [
                        stage_names[si - 1],
                        *draw(st.lists(st.sampled_from(stage_names[:si]), max_size=2)),
                    ]
                )
            )
        if stage_deps:
            stage["dependencies"] = stage_deps
        if chance(draw, 4):
            stage["environment"] = environment(draw, base)
        if chance(draw, 4):
            stage["timeout"] = draw(SECONDS)
        if chance(draw, 4):
            stage["retry_policy"] = draw(RETRY)
        jobs = []
        for _ in range(sizes[si]):
            built = job(
                draw,
                next(names),
                base,
                earlier,
                stage_deps,
                jobs_of,
                outputs_of,
                [*variables, *inputs],
            )
            jobs.append(built)
            earlier.append(built["name"])
            jobs_of.setdefault(stage_name, []).append(built["name"])
        stage["jobs"] = jobs
        stages.append(stage)
    return name, stages, config


# --------------------------------------------------------------------------------------
# the properties


def _steps_of(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in (workflow.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            yield job_id, step


# GitHub expression language: the contexts and functions a generated workflow may use, and
# where (https://docs.github.com/en/actions/reference/workflows-and-actions/contexts).
GITHUB_CONTEXTS = frozenset(
    {
        "github",
        "env",
        "vars",
        "job",
        "jobs",
        "steps",
        "runner",
        "secrets",
        "strategy",
        "matrix",
        "needs",
        "inputs",
    }
)
GITHUB_FUNCTIONS = frozenset(
    {
        "contains",
        "startsWith",
        "endsWith",
        "format",
        "join",
        "toJSON",
        "fromJSON",
        "hashFiles",
        "success",
        "always",
        "cancelled",
        "failure",
        "case",
    }
)
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_STEP_REF = re.compile(r"(?<![\w.-])steps\s*\.\s*([A-Za-z_][\w-]*)")
_CONTEXT_USE = re.compile(r"(?<![\w.-])([A-Za-z_][\w-]*)\s*(\.|\()")


def _strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, (*path, str(i)))
    elif isinstance(node, str):
        yield path, node


def github_expression_problems(workflow: dict[str, Any]) -> list[str]:
    """Expressions GitHub would reject or read differently from the neutral template.

    Checks every ``${{ }}`` (and every job and step ``if:``): only GitHub contexts and
    functions (a neutral ``ci.``/``hash()`` left over is not one), no ``vars.`` (neutral
    variables are written as values: GitHub's ``vars`` are repository settings), and the
    context rules GitHub enforces: ``hashFiles`` only in steps, ``env``/``steps``/``runner``
    only in steps and job outputs.
    """
    problems = []
    for path, text in _strings(workflow):
        is_if = path[-1] == "if" and path[0] == "jobs"
        bodies = [text] if is_if else _EXPRESSION.findall(text)
        in_steps = len(path) > 3 and path[0] == "jobs" and path[2] == "steps"
        in_outputs = len(path) > 2 and path[0] == "jobs" and path[2] == "outputs"
        where = "/".join(path)
        for body in bodies:
            for name, kind in _CONTEXT_USE.findall(_QUOTED.sub("''", body)):
                if kind == "(" and name not in GITHUB_FUNCTIONS:
                    problems.append(f"{where}: unknown function {name}() in {text!r}")
                elif kind == "." and name not in GITHUB_CONTEXTS:
                    problems.append(f"{where}: unknown context {name!r} in {text!r}")
                elif kind == "." and name == "vars":
                    problems.append(
                        f"{where}: GitHub vars context (not the neutral vars) in {text!r}"
                    )
                elif name == "hashFiles" and not in_steps:
                    problems.append(f"{where}: hashFiles() outside steps in {text!r}")
                elif (
                    kind == "."
                    and name in ("env", "steps", "runner")
                    and not (in_steps or in_outputs)
                ):
                    problems.append(f"{where}: context {name!r} not available here in {text!r}")
    return problems


def same_but_case(what: str, names: list[str]) -> list[str]:
    """GitHub compares job ids, service names and step ids ignoring case."""
    lowered = [n.lower() for n in names]
    return [
        f"{what} equal but for case (GitHub ignores case): {[n for n in names if n.lower() == dup]}"
        for dup in sorted({n for n in lowered if lowered.count(n) > 1})
    ]


def check_github(text: str, data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    try:
        workflow = load_12(text)
    except YAMLError as exc:
        return [f"the file does not load: {str(exc)[:300]}"]
    refused = libyaml_error(text)
    if refused:
        problems.append(f"libyaml does not load the file: {refused}")
    problems += [f"schema: {e}" for e in schema_errors(GITHUB_SCHEMA, workflow)]
    problems += [f"expression: {e}" for e in github_expression_problems(workflow)]
    jobs = [j for s in data["stages"] for j in s["jobs"]]
    names = [j["name"] for j in jobs]
    job_ids = list(workflow.get("jobs") or {})
    if job_ids != names:
        problems.append(f"jobs {job_ids} != neutral jobs {names}")
    problems += same_but_case("job ids", job_ids)
    for job_id, job in (workflow.get("jobs") or {}).items():
        problems += same_but_case(f"jobs.{job_id} services", list(job.get("services") or {}))
        ids = [step["id"] for step in job.get("steps") or [] if "id" in step]
        problems += same_but_case(f"jobs.{job_id} step ids", ids)
        known = {i.lower() for i in ids}
        for path, value in _strings({k: v for k, v in job.items() if k in ("steps", "outputs")}):
            for body in _EXPRESSION.findall(value):
                for step_id in _STEP_REF.findall(_QUOTED.sub("''", body)):
                    if step_id.lower() not in known:
                        problems.append(
                            f"jobs.{job_id}/{'/'.join(path)}: steps.{step_id} names no step "
                            f"of the job (ids: {ids})"
                        )
    secrets = data.get("config", {}).get("secrets", [])
    for job_id, job in (workflow.get("jobs") or {}).items():
        needs = job.get("needs", [])
        for dep in [needs] if isinstance(needs, str) else needs:
            if dep not in job_ids:
                problems.append(f"jobs.{job_id}.needs names unknown job {dep!r}")
        if isinstance(job.get("uses"), str) and not SHA_PIN.match(job["uses"]):
            problems.append(f"jobs.{job_id}.uses not pinned: {job['uses']!r}")
    for job_id, step in _steps_of(workflow):
        run = step.get("run")
        if isinstance(run, str):
            if "${{" in run:
                problems.append(f"jobs.{job_id}: template in run: {run!r}")
            for secret in secrets:
                if re.search(rf"secrets\s*\.\s*{re.escape(secret)}\b", run):
                    problems.append(f"jobs.{job_id}: secret {secret} in run: {run!r}")
        uses = step.get("uses")
        if uses is not None and not (isinstance(uses, str) and SHA_PIN.match(uses)):
            problems.append(f"jobs.{job_id}: uses not pinned to a commit SHA: {uses!r}")
    for job in jobs:
        out = (workflow.get("jobs") or {}).get(job["name"]) or {}
        if len(out.get("services") or {}) != len(job.get("services", [])):
            problems.append(
                f"jobs.{job['name']}: {len(job.get('services', []))} services "
                f"became {sorted(out.get('services') or {})}"
            )
        problems += env_round_trip(job, out.get("env") or {}, lambda v: v)
    return problems


def env_round_trip(
    job: dict[str, Any], env: dict[str, Any], expected: Callable[[Any], Any]
) -> list[str]:
    """Plain job env values (no template, not shadowed by a matrix axis or a secret) must
    reach the file unchanged; ``expected`` maps the neutral value to the provider's."""
    shadowed = {*matrix_keys(job.get("matrix")), *job.get("secrets", [])}
    problems = []
    for name, value in (job.get("env") or {}).items():
        if name in shadowed or (isinstance(value, str) and "${{" in value):
            continue
        found = env.get(name)
        if isinstance(found, dict) and "value" in found:  # GitLab's {value:, expand: false}
            found = found["value"]
        want = expected(value)
        if found != want or type(found) is not type(want):
            problems.append(f"jobs.{job['name']} env {name}: {value!r} came back as {found!r}")
    return problems


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_gitlab(text: str, data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if "!reference" in text:
        problems.append("!reference tag in generated file")
    if "${{" in text:  # the strategy writes "${{" only where it is a template
        problems.append("neutral template left in the file: " + text[text.index("${{") :][:80])
    try:
        doc = load_12(text)  # a plain safe loader: any tag it does not know would raise
        doc_11 = load_11(text)
    except YAMLError as exc:
        return [*problems, f"the file does not load: {str(exc)[:300]}"]
    refused = libyaml_error(text)
    if refused:
        problems.append(f"GitLab's parser (libyaml) does not load the file: {refused}")
    problems += [f"schema: {e}" for e in schema_errors(GITLAB_SCHEMA, doc)]
    problems += [f"YAML 1.1 (GitLab) reads {d}" for d in yaml_11_differences(doc, doc_11)]
    stages = doc.get("stages") or []
    jobs = [j for s in data["stages"] for j in s["jobs"]]
    names = {j["name"] for j in jobs}
    secrets = data.get("config", {}).get("secrets", [])
    for job in jobs:
        out = doc.get(job["name"])
        if not isinstance(out, dict) or "script" not in out:
            problems.append(f"no GitLab job {job['name']!r}")
            continue
        if out.get("stage") not in stages:
            problems.append(f"{job['name']}: stage {out.get('stage')!r} not in stages {stages}")
            continue
        here = stages.index(out["stage"])
        for need in out.get("needs", []):
            dep = need["job"] if isinstance(need, dict) else need
            if dep not in names or not isinstance(doc.get(dep), dict):
                problems.append(f"{job['name']}: needs unknown job {dep!r}")
            elif doc[dep].get("stage") not in stages[: here + 1]:
                problems.append(f"{job['name']}: needs {dep!r} of a later stage")
        problems += env_round_trip(job, out.get("variables") or {}, _scalar_text)
    for secret in secrets:
        if re.search(rf"secrets\s*\.\s*{re.escape(secret)}\b", text):
            problems.append(f"secret {secret} named in .gitlab-ci.yml")
    return problems


def check_pipeline(name: str, stages: list[dict[str, Any]], config: dict[str, Any]) -> None:
    pipeline = create_pipeline(name, copy.deepcopy(stages), copy.deepcopy(config))
    data = {"name": name, "stages": stages, "config": config}
    first = render(pipeline, "all")
    # twice, from a second pipeline object made from the same data (new id, created_at)
    again = render(create_pipeline(name, copy.deepcopy(stages), copy.deepcopy(config)), "all")
    assert first.files == again.files, "rendering is not deterministic"
    for loss in first.losses:
        loss.format(None)
    workflow = f".github/workflows/{name}.yml"
    assert sorted(first.files) == sorted([workflow, ".gitlab-ci.yml"])
    problems = [f"github: {p}" for p in check_github(first.files[workflow], data)]
    problems += [f"gitlab: {p}" for p in check_gitlab(first.files[".gitlab-ci.yml"], data)]
    assert not problems, "\n".join(problems[:20])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # One bug at a time: shrinking several distinct failures of big examples takes minutes;
    # the test_regression_* tests below show every known one at once.
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
@given(pipelines())
def test_every_valid_pipeline_renders_to_valid_native_files(
    case: tuple[str, list[dict[str, Any]], dict[str, Any]],
) -> None:
    check_pipeline(*case)


# --------------------------------------------------------------------------------------
# minimal reproducers of what the property found (each also still covered by the strategy)


def _one_job(job: dict[str, Any], **config: Any) -> None:
    check_pipeline(
        "p", [{"name": "s", "jobs": [{"name": "j", "steps": [{"run": "true"}], **job}]}], config
    )


@pytest.mark.parametrize(
    "char", ["\u2028", "\u2029", "\x85", "\x1b", "\x00", "\x96", "\ufffe", "\uffff"]
)
def test_regression_multiline_string_with_a_yaml_break_or_control_char(char: str) -> None:
    # a literal block cannot hold these characters: written in one, the file does not load
    _one_job({"steps": [{"run": f"echo a{char}b\necho c"}]})


def test_regression_next_line_character_in_a_one_line_value() -> None:
    # U+0085 is a YAML line break: written raw inside single quotes it folds to a space
    _one_job({"env": {"X": "a\x85b"}})


@pytest.mark.parametrize("value", ["a\r\nb\n", "\r\n"])
def test_regression_carriage_return_in_a_multiline_value(value: str) -> None:
    # a literal block holding "\r\n" reads back as "\n" ("\r\n" alone reads back as "")
    _one_job({"env": {"X": value}})


def test_regression_multiline_env_value_keeps_its_bytes() -> None:
    # a literal block must not add a final "\n" the value does not have ("|-", not "|")
    _one_job({"env": {"X": "a\nb"}})


@pytest.mark.parametrize("name", ["yes", "on", "off", "No"])
def test_regression_yaml_11_booleans_as_gitlab_keys_and_values(name: str) -> None:
    # GitLab reads YAML 1.1: plain yes/on/off/no are booleans there
    check_pipeline(name, [{"name": name, "jobs": [{"name": name, "steps": [{"run": "true"}]}]}], {})


def test_regression_script_starting_with_a_tab() -> None:
    # a literal block whose first line starts with a tab: libyaml (GitLab's Psych) and
    # actionlint's parser refuse the file ("found a tab character where an indentation
    # space is expected"); an indentation indicator (|2) or a quoted scalar is needed
    _one_job({"steps": [{"run": "\techo hi\n\techo there"}]})


def test_regression_step_id_of_an_upload_step() -> None:
    # GitHub drops the id of an upload_artifact step, so the output names no step
    _one_job(
        {
            "steps": [{"upload_artifact": {"paths": ["dist/"]}, "id": "up"}],
            "outputs": {"artifact": "${{ steps.up.outputs.artifact-id }}"},
        }
    )


def test_regression_yaml_11_sexagesimal_value() -> None:
    _one_job({"env": {"T": "1:20"}})  # GitLab (YAML 1.1) reads a plain 1:20 as the number 80


def test_regression_cache_key_with_a_slash() -> None:
    # GitLab's schema: a cache key string cannot contain "/"
    _one_job({"cache": {"key": "pip/x", "paths": [".cache"]}})


def test_regression_service_aliases_differing_in_case() -> None:
    # GitHub's service names are case-insensitive keys: "db" and "DB" collide, so the
    # model refuses them rather than generate a workflow actionlint rejects
    with pytest.raises(PipelineValidationError, match="duplicate-service-alias"):
        _one_job(
            {"services": [{"image": "postgres", "alias": "db"}, {"image": "redis", "alias": "DB"}]}
        )


def test_regression_step_ids_differing_in_case() -> None:
    # GitHub's step ids are case-insensitive: "ver" and "Ver" collide; the model refuses them
    with pytest.raises(PipelineValidationError, match="duplicate-step-id"):
        _one_job({"steps": [{"run": "true", "id": "ver"}, {"run": "true", "id": "Ver"}]})


def test_regression_environment_url_from_a_template() -> None:
    # GitLab's schema wants http(s)://... or $NAME...; "${URL}/review" is neither
    _one_job(
        {"environment": {"name": "prod", "url": "${{ vars.URL }}/review"}},
        variables={"URL": "https://example.com"},
    )


@pytest.mark.parametrize("field", ["image", "environment", "env"])
def test_regression_hash_outside_steps(field: str) -> None:
    # GitHub has hashFiles() in steps only
    value = "x-${{ hash('requirements.txt') }}"
    _one_job({field: {"K": value} if field == "env" else value})


def test_regression_ci_environment_of_a_templated_environment() -> None:
    # ci.environment must be the translated name, not the neutral text "review-${{ vars.V }}"
    # (which GitHub would read as its own vars context)
    _one_job(
        {"environment": "review-${{ vars.V }}", "env": {"E": "${{ ci.environment }}"}},
        variables={"V": "x"},
    )
