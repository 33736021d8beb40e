"""One GitLab job's keywords -> neutral job fields: the per-keyword mapping of the GitLab importer.

What this module owns: ``JobKeywords``, which maps the keywords of one job (``image``,
``services``, ``tags``, ``needs``, ``parallel``, ``allow_failure``, ``retry``, ``timeout``,
``environment``, ``artifacts``, ``cache``), the checkout GitLab's Git variables ask for, the
predefined variables of the job's script and its dotenv report as job outputs; and the pure
helpers they use. ``gitlab_import`` drives it job by job and keeps what spans jobs or belongs
to the pipeline (defaults, conditions, stage order, renames). What folds, and why: see
docs/importing.md.

Invariants:

* Nothing is dropped silently: what has no neutral form is kept verbatim in the job's
  ``gitlab:`` escape hatch (``JobKeywords.hatch``) with a note, and what changes on the way (a
  report renamed, retry reasons widened to ``any``) is noted.
* A keyword handler reads its keyword's value and what ``JobKeywords`` was given, writes only
  the job's hatch and the notes, and returns the neutral fields (or None).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PipelineImportError
from ..model.durations import compact, parse_duration
from ..model.notes import Path as NotePath
from ..model.pipeline import IDENT_PATTERN, JOB_NAME_PATTERN, RESERVED_VARIABLE_PREFIXES
from .gitlab import RETRY_WHEN
from .reader import NoteLog
from .shell import rewrite_unquoted

__all__ = ["JobKeywords", "flatten"]

RETRY_REASONS = {w: k for k, ws in RETRY_WHEN.items() for w in ws}

# A keyword handler: the keyword's value and its note path -> neutral job fields, or None.
Handler = Callable[[Any, tuple[Any, ...]], dict[str, Any] | None]


class JobKeywords:
    """The keywords of one GitLab job as neutral job fields; what has no neutral form goes to
    ``hatch``, the job's ``gitlab:`` escape hatch.

    Args:
        file: the file name, for errors.
        notes: the importer's notes, appended to.
        names: the neutral name of every job, by its native name.
        doc_jobs: every job the document defines, hidden ones excepted.
        global_variables: the pipeline's neutral variables.
        unread_includes: the file has includes that were not read, which may define jobs.
    """

    def __init__(
        self,
        file: str,
        notes: NoteLog,
        *,
        names: Mapping[str, str],
        doc_jobs: set[str],
        global_variables: Mapping[str, Any],
        unread_includes: bool,
    ) -> None:
        self.file = file
        self.notes = notes
        self.names = names
        self.doc_jobs = doc_jobs
        self.global_variables = global_variables
        self.unread_includes = unread_includes
        self.hatch: dict[str, Any] = {}

    def note(self, path: NotePath, message: str, rule: str, *, kept_verbatim: bool = False) -> None:
        self.notes.add(path, message, rule, kept_verbatim=kept_verbatim)

    def handlers(self) -> dict[str, Handler]:
        """The handler of each job keyword this class maps, by keyword."""
        return {
            "image": self.image,
            "services": self.services,
            "tags": self.tags,
            "needs": self.needs,
            "parallel": self.parallel,
            "allow_failure": self.allow_failure,
            "retry": self.retry,
            "timeout": self.timeout,
            "environment": self.environment,
            "artifacts": self.artifacts,
            "cache": self.cache,
        }

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
                if (m.group(1) or m.group(2)) not in self.global_variables
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
    ) -> tuple[dict[str, Any], list[str]]:
        """An ``artifacts:reports:dotenv`` file as neutral job outputs, when exact.

        GitLab turns each ``KEY=value`` line of the file into a variable of the jobs that
        receive this job's artifacts. The neutral form: a last step appends the file to
        ``$CICD_OUTPUT`` (the same ``KEY=value`` format), the job publishes each key as an
        output, and every job that receives the artifacts gets ``KEY`` in its env from
        ``needs.<job>.outputs.KEY`` (``gitlab_import``'s ``consume_dotenv``). Exact only when
        every script line that names the file is a recognisable ``echo``/``printf`` of one
        ``KEY=`` line into it, so that the keys are known; otherwise the report stays in the
        escape hatch.

        Returns the job without the report and the keys it publishes ([] when not exact).
        """
        artifacts = job.get("artifacts")
        if not isinstance(artifacts, dict) or not isinstance(artifacts.get("reports"), dict):
            return job, []
        reports: dict[str, Any] = artifacts["reports"]
        dotenv = reports.get("dotenv")
        if isinstance(dotenv, list) and len(dotenv) == 1:
            dotenv = dotenv[0]
        if not isinstance(dotenv, str) or "outputs" in out:
            return job, []
        keys = _dotenv_keys(lines, dotenv)
        if not keys:
            return job, []
        rest_reports = {k: v for k, v in reports.items() if k != "dotenv"}
        rest_artifacts = {k: v for k, v in artifacts.items() if k != "reports"}
        if rest_reports:
            rest_artifacts["reports"] = rest_reports
        job = {k: v for k, v in job.items() if k != "artifacts"}
        if rest_artifacts:
            job["artifacts"] = rest_artifacts
        out["steps"].append({"id": "dotenv", "run": f'cat {_sh_word(dotenv)} >> "$CICD_OUTPUT"'})
        out["outputs"] = {k: "${{ steps.dotenv.outputs." + k + " }}" for k in keys}
        self.note(
            (*path, "artifacts", "reports", "dotenv"),
            f"dotenv report became job outputs ({', '.join(keys)}) and the env of the jobs "
            "that receive this job's artifacts",
            "dotenv",
        )
        return job, keys

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
        self.hatch[key] = value
        self.note(path, f"{why}; kept verbatim", key, kept_verbatim=True)

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
        tags = [str(t) for t in flatten(value if isinstance(value, list) else [value]) if t]
        if not tags:
            return None
        return {"runs_on": tags}

    def needs(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
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
            if job is None or job not in self.names:
                optional = isinstance(item, dict) and item.get("optional") is True
                # "build: [linux, 3.12]" names one instance of a parallel:matrix job.
                base = re.sub(r": \[[^\]]*\]$", "", job) if job is not None else None
                if base is not None and base not in self.doc_jobs and not self.unread_includes:
                    if optional:
                        # GitLab ignores an optional need on a job that does not exist.
                        self.note(path, f'optional needs "{job}": no such job', "needs")
                        continue
                    # GitLab refuses the pipeline ("needs ... is not defined").
                    raise PipelineImportError(
                        self.file, f'job "{path[0]}" needs unknown job "{job}"'
                    )
                kept.append(item)
                continue
            if self.names[job] not in out:
                out.append(self.names[job])
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
        seconds = parse_duration(value)
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
        paths = [str(p) for p in flatten(value.get("paths") or []) if p]
        raw_expire = parse_duration(value.get("expire_in"))
        expire = compact(raw_expire) if raw_expire else None
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
                    kept_verbatim=True,
                )
            self._keep("artifacts", rest, path, "artifacts options have no neutral form")
        return {"artifacts": out} if out else None

    def cache(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any] | None:
        if isinstance(value, list):
            # A list alias inside the list (`cache: [*caches]`) nests it; GitLab flattens
            # nested arrays in configuration, the schema does not take them.
            value = flatten(value)
            if len(value) == 1:
                value = value[0]
        if isinstance(value, dict) and set(value) <= {"key", "paths", "policy"}:
            key = _files_key(value.get("key", "default"))
            paths = [str(p) for p in flatten(value.get("paths") or []) if p]
            policy = value.get("policy", "pull-push")
            known = policy in ("pull-push", "pull", "push")
            if isinstance(key, str | int) and str(key) and paths and known:
                out: dict[str, Any] = {"key": str(key), "paths": paths}
                if policy != "pull-push":
                    out["policy"] = policy
                return {"cache": out}
        self._keep("cache", value, path, "cache options have no neutral form")
        return None


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


def flatten(value: Any) -> list[Any]:
    """``value`` as a flat list: nested lists flattened, a scalar as one item, None as []."""
    if isinstance(value, list):
        return [x for v in value for x in flatten(v)]
    return [] if value is None else [value]
