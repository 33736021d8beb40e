"""One GitHub Actions step -> its neutral fields plus its own ``github:`` hatch.

As little as possible goes to the hatch (one key, one ``env``/``with`` entry); a step ``if:``
always does, as does a part validation refused (``forced``). See docs/importing.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..model.notes import Path as NotePath
from ..model.pipeline import IDENT_PATTERN, JOB_NAME_PATTERN, RESERVED_VARIABLE_PREFIXES
from .github_expressions import ExpressionTranslator, NoteSink, Scope, Untranslatable, reason

_IDENT = re.compile(IDENT_PATTERN)
_JOB = re.compile(JOB_NAME_PATTERN)
_SHELLS = {"bash", "sh", "pwsh", "python"}
_GITHUB_ONLY = "this step has no neutral form; it runs on GitHub only (see its github: hatch)"
# A script that fails loudly, per neutral shell, where a step's script is GitHub-only.
_PLACEHOLDERS = {
    None: f"echo '{_GITHUB_ONLY}' >&2\nexit 1",
    "bash": f"echo '{_GITHUB_ONLY}' >&2\nexit 1",
    "sh": f"echo '{_GITHUB_ONLY}' >&2\nexit 1",
    "pwsh": f"Write-Error '{_GITHUB_ONLY}'\nexit 1",
    "python": f"import sys\nsys.exit('{_GITHUB_ONLY}')",
}
# GitHub's own `bash` command lines (`bash -el {0}`...): bash with options, for other targets.
_BASH_COMMAND = re.compile(r"bash(\s+-[-\w]+)*\s+\{0\}")
# The action references GitHub accepts in `uses:`.
ACTION_REF = re.compile(r"^(\./\S+|docker://\S+|[\w.-]+/[\w./-]+@\S+)$")
# GitHub step kinds without run/uses (parallel steps, background step control).
CONTROL = frozenset({"parallel", "wait", "wait-all", "cancel"})
_STEP_KEY_NOTES = {
    "background": (
        "a background step has no neutral form (other targets run it in the foreground and "
        "wait for it to end)"
    ),
    "continue-on-error": "continue-on-error is neutral only as true/false on a run step",
    "timeout-minutes": "timeout-minutes is neutral only as whole minutes on a run step",
}


@dataclass
class RunDefaults:
    """What a run step inherits: ``defaults.run`` (job over workflow) and the runner's OS."""

    shell: Any = None
    shell_path: NotePath = ()
    working_directory: Any = None
    wd_path: NotePath = ()
    windows: bool = False  # every runner is Windows, whose default shell is pwsh
    some_windows: NotePath = ()  # the job's path when only some matrix runners are Windows


def run_defaults(
    workflow: dict[str, Any], job_id: str, job: dict[str, Any], note: NoteSink
) -> RunDefaults:
    """The ``defaults.run`` settings a run step of the job inherits (job over workflow)."""
    found = RunDefaults(windows=_windows_only(job.get("runs-on")))
    if "${{" in str(job.get("runs-on")) and "windows" in str(job.get("strategy")).lower():
        found.some_windows = ("jobs", job_id)
    places: tuple[tuple[NotePath, dict[str, Any]], ...] = (
        (("defaults", "run"), workflow),
        (("jobs", job_id, "defaults", "run"), job),
    )
    for where, source in places:
        run = defaults_run(source.get("defaults"))
        if run is None:
            continue
        if "shell" in run:
            found.shell, found.shell_path = run["shell"], (*where, "shell")
        if "working-directory" in run:
            found.working_directory = run["working-directory"]
            found.wd_path = (*where, "working-directory")
        note(
            where,
            "defaults.run became the shell / working directory of each run step that sets none",
            "defaults-run",
        )
    return found


def defaults_run(value: Any) -> dict[str, Any] | None:
    """``defaults`` as ``{shell, working-directory}`` when that is all it holds."""
    if not isinstance(value, dict) or set(value) != {"run"}:
        return None
    run = value["run"]
    if not isinstance(run, dict) or not run or set(run) - {"shell", "working-directory"}:
        return None
    return run


def _windows_only(runs_on: Any) -> bool:
    """True when every runner the job may get is a Windows one (default shell pwsh)."""
    labels = [runs_on] if isinstance(runs_on, str) else runs_on
    if not isinstance(labels, list) or not labels:
        return False
    names = [str(x).lower() for x in labels]
    if any("${{" in n for n in names):
        return False
    return names[0].startswith("windows") or "windows" in names


def reserved_name(name: str) -> tuple[str, str]:
    """Why an ``env`` name cannot be neutral, and the note rule."""
    if not _IDENT.match(name):
        return f'"{name}" is not a neutral variable name', "env-name"
    return (
        f'"{name}" is reserved in the neutral model (the providers and the runner set '
        f"{name.split('_', 1)[0]}_* variables themselves)",
        "env-reserved",
    )


class StepBuild:
    """One step being translated: its neutral fields and its own ``github:`` hatch.

    A part without a neutral form goes to the hatch (deep-merged into the GitHub step by the
    generator, reported as a ``step-github`` loss on GitLab); the rest is still translated.
    Call ``head``, ``env``, then ``run`` or ``uses``, then ``rest``; ``result`` is the step.
    """

    def __init__(
        self,
        expressions: ExpressionTranslator,
        note: NoteSink,
        step: dict[str, Any],
        scope: Scope,
        path: NotePath,
        forced: dict[tuple[str, ...], str],
    ) -> None:
        self.ex = expressions
        self.note = note
        self.step = step
        self.scope = scope
        self.path = path
        self.forced = forced  # native parts whose neutral form did not validate -> why
        self.out: dict[str, Any] = {}
        self.hatch: dict[str, Any] = {}
        self.seen: set[str] = set()

    def result(self) -> dict[str, Any]:
        if self.hatch:
            self.out["github"] = self.hatch
        return self.out

    def refused(self, *part: str) -> str | None:
        """Why validation refused the neutral form of ``part`` (or of the whole step)."""
        why = self.forced.get(part) or self.forced.get(())
        return f"its neutral form did not validate ({why})" if why else None

    def keep(self, key: str, why: str, rule: str, sub: str | None = None) -> None:
        """Keep ``step[key]`` (or ``step[key][sub]``) verbatim for GitHub, with a note."""
        self.seen.add(key)
        value = self.step[key] if sub is None else self.step[key][sub]
        native = self.ex.native(value, self.scope, expression=key == "if")
        if sub is None:
            self.hatch[key] = native
            where: NotePath = (*self.path, key)
        else:
            self.hatch.setdefault(key, {})[sub] = native
            where = (*self.path, key, sub)
        self.note(where, f"{why}; kept for GitHub in the step's github: hatch", rule)

    def translate(self, value: Any, part: tuple[str, ...], rule: str) -> tuple[Any, str, str]:
        """(neutral value or None, why not, note rule)."""
        refused = self.refused(*part)
        if refused:
            return None, refused, rule
        try:
            return self.ex.value(value, self.scope), "", rule
        except Untranslatable as exc:
            why, rule = reason(exc, rule)
            return None, why, rule

    # --- the parts ------------------------------------------------------------------------

    def head(self) -> None:
        step = self.step
        self.seen.update(("name", "id", "if"))
        if "name" in step:
            name = step["name"]
            if isinstance(name, bool | int | float):
                name = str(name)
            if isinstance(name, str) and "${{" not in name and not self.refused("name"):
                self.out["name"] = name
            else:
                self.keep("name", "a step name with an expression has no neutral form", "step-name")
        if "id" in step:
            sid = step["id"]
            if isinstance(sid, str) and _JOB.match(sid) and not self.refused("id"):
                self.out["id"] = sid
            else:
                why = self.refused("id") or "the step id is not a valid neutral id"
                self.keep("id", why, "step-id")
        if "if" in step:
            # A step condition has no neutral form (the model has none, by design).
            self.keep(
                "if",
                "a step condition has no neutral form (other targets run the step unconditionally)",
                "step-if",
            )

    def env(self) -> None:
        self.seen.add("env")
        env = self.step.get("env")
        if env is None:
            return
        if not isinstance(env, dict):
            self.keep("env", "a step env that is an expression has no neutral form", "step-env")
            return
        neutral: dict[str, Any] = {}
        for name, item in env.items():
            if not _IDENT.match(name) or name.startswith(RESERVED_VARIABLE_PREFIXES):
                why, rule = reserved_name(name)
            elif not isinstance(item, str | bool | int | float):
                why, rule = "a value that is not text, a number or a boolean", "step-env"
            else:
                text, why, rule = self.translate(item, ("env", name), "step-env")
                if text is not None:
                    neutral[name] = text
                    continue
            self.keep("env", why, rule, sub=name)
        if neutral:
            self.out["env"] = neutral

    def run(self, defaults: RunDefaults) -> None:
        step = self.step
        self.seen.update(("run", "shell", "working-directory"))
        reasons: list[str] = []
        hatch: dict[str, Any] = {}
        shell, shell_path = step.get("shell"), (*self.path, "shell")
        if "shell" not in step and defaults.shell is not None:
            shell, shell_path = defaults.shell, defaults.shell_path
        neutral_shell = None
        if shell is None and defaults.windows:
            neutral_shell = "pwsh"  # GitHub's default shell on Windows runners
        elif shell is None and defaults.some_windows:
            self.note(
                defaults.some_windows,
                "GitHub runs steps without a shell in pwsh on Windows runners and bash on "
                "others; the neutral steps run bash on every runner (no neutral form for a "
                "per-runner default)",
                "windows-default-shell",
            )
        elif shell is not None and (self.refused("shell") or not isinstance(shell, str)):
            reasons.append(self.refused("shell") or "the shell is not text")
            hatch["shell"] = shell
        elif isinstance(shell, str) and shell in _SHELLS:
            neutral_shell = shell
        elif isinstance(shell, str) and _BASH_COMMAND.fullmatch(shell):
            neutral_shell = "bash"
            hatch["shell"] = shell
            self.note(
                shell_path,
                f'shell "{shell}" is bash with options; other targets run plain bash',
                "step-shell",
            )
        elif shell is not None:
            reasons.append(f'shell "{shell}" has no neutral form')
            hatch["shell"] = shell
        wd = step.get("working-directory", defaults.working_directory)
        if wd is not None:
            # The neutral working_directory is a plain path (templates are not expanded
            # there), so one with an expression is GitHub-only, and so is the script.
            text, why, _rule = self.translate(wd, ("working-directory",), "step-run")
            if isinstance(wd, str) and "${{" in wd:
                text, why = None, f'the working directory "{wd}" holds an expression'
            if isinstance(text, str) and text:
                self.out["working_directory"] = text
            else:
                reasons.append(why or "the working directory is empty or not text")
                hatch["working-directory"] = self.ex.native(wd, self.scope)
        script = step["run"]
        neutral_script = None
        if isinstance(script, str) and script.strip():
            for var in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"):
                if var in script:
                    self.note(
                        (*self.path, "run"), f"script writes ${var}, which only GitHub reads", var
                    )
            rewritten = re.sub(r"\$\{?GITHUB_OUTPUT\}?", "$CICD_OUTPUT", script)
            rewritten = self.ex.runner_facts(rewritten, (*self.path, "run"))
            neutral_script, why, _rule = self.translate(rewritten, ("run",), "step-run")
            if neutral_script is None:
                reasons.append(why)
        else:
            reasons.append("the script is empty or not text")
        if neutral_shell is not None:
            self.out["shell"] = neutral_shell
        if reasons:
            self.out["run"] = _PLACEHOLDERS[neutral_shell]
            hatch["run"] = self.ex.native(script, self.scope)
            self.note(
                (*self.path, "run"),
                "the script has no neutral form (" + "; ".join(dict.fromkeys(reasons)) + "); "
                "it is kept for GitHub in the step's github: hatch and fails loudly elsewhere",
                "step-run",
            )
        else:
            self.out["run"] = neutral_script
        self.hatch.update(hatch)
        minutes = step.get("timeout-minutes")
        if isinstance(minutes, int) and self._whole_minutes(minutes):
            self.seen.add("timeout-minutes")
            self.out["timeout"] = minutes * 60
        flag = step.get("continue-on-error")
        if isinstance(flag, bool) and not self.refused("continue-on-error"):
            self.seen.add("continue-on-error")
            self.out["continue_on_error"] = flag

    def _whole_minutes(self, value: Any) -> bool:
        if self.refused("timeout-minutes") or isinstance(value, bool):
            return False
        return isinstance(value, int) and 0 < value <= 7 * 24 * 60

    def uses(self) -> None:
        step = self.step
        self.seen.update(("uses", "with"))
        uses = step["uses"]
        with_ = step.get("with")
        if isinstance(with_, dict | None) and "env" not in step and not self.refused("kind"):
            kind = neutral_kind(uses.partition("@")[0].lower(), with_ or {})
            try:
                spec = self.ex.translate_tree(kind[1], self.scope) if kind else None
            except Untranslatable:
                kind = None
            if kind is not None:
                self.note(
                    (*self.path, "uses"),
                    f'"{uses}" became the neutral {kind[0]} step (the generator pins its own '
                    "version)",
                    "uses-neutral",
                )
                self.out[kind[0]] = spec
                return
        self.out["uses"] = uses
        if uses.startswith("./"):
            self.note((*self.path, "uses"), "local or composite action kept as uses:", "uses-local")
        if with_ is None:
            return
        if not isinstance(with_, dict):
            self.keep("with", "inputs given as an expression have no neutral form", "step-with")
            return
        neutral: dict[str, Any] = {}
        for key, item in with_.items():
            if not isinstance(item, str | bool | int | float):
                why, rule = "a value that is not text, a number or a boolean", "step-with"
            else:
                text, why, rule = self.translate(item, ("with", key), "step-with")
                if text is not None:
                    neutral[key] = text
                    continue
            self.keep("with", why, rule, sub=key)
        if neutral:
            self.out["with"] = neutral

    def rest(self) -> None:
        """Every key no neutral field took (an expression, or a uses step's settings)."""
        for key in self.step:
            if key not in self.seen:
                why = self.refused(key) or _STEP_KEY_NOTES.get(
                    key, f'"{key}" has no neutral form on this step'
                )
                self.keep(key, why, f"step-{key}")


def native_part(path: tuple[Any, ...]) -> tuple[str, ...]:
    """The native part of a step that a neutral diagnostic path names (``()``: all of it)."""
    if not path:
        return ()
    head = str(path[0])
    if head in ("env", "with") and len(path) > 1:
        return (head, str(path[1]))
    native = {
        "run": "run",
        "shell": "shell",
        "working_directory": "working-directory",
        "timeout": "timeout-minutes",
        "continue_on_error": "continue-on-error",
        "name": "name",
        "id": "id",
    }
    if head in native:
        return (native[head],)
    if head in ("checkout", "setup", "cache", "upload_artifact", "download_artifact"):
        return ("kind",)
    return ()


def neutral_kind(action: str, with_: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The neutral step kind of a well-known action whose inputs map exactly."""
    keys = set(with_)
    if action == "actions/checkout" and keys <= {
        "fetch-depth",
        "submodules",
        "lfs",
        "persist-credentials",
    }:
        if with_.get("persist-credentials", False) not in (False, "false"):
            return None
        opts: dict[str, Any] = {}
        depth = with_.get("fetch-depth")
        if depth is not None:
            if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
                return None
            opts["depth"] = depth
        sub = with_.get("submodules")
        if sub is not None:
            sub = {"true": True, "false": False}.get(str(sub).lower(), sub)
            if sub not in (True, False, "recursive"):
                return None
            opts["submodules"] = sub
        lfs = with_.get("lfs")
        if lfs is not None:
            if lfs not in (True, False, "true", "false"):
                return None
            opts["lfs"] = lfs in (True, "true")
        return "checkout", opts
    for tool in ("python", "node", "go"):
        if action == f"actions/setup-{tool}" and keys == {f"{tool}-version"}:
            version = with_[f"{tool}-version"]
            if isinstance(version, bool | list | dict) or version is None:
                return None
            return "setup", {tool: str(version)}
    policies = {
        "actions/cache": "pull-push",
        "actions/cache/restore": "pull",
        "actions/cache/save": "push",
    }
    if action in policies and {"path", "key"} <= keys <= {"path", "key", "restore-keys"}:
        paths = [p.strip() for p in str(with_["path"]).splitlines() if p.strip()]
        if not paths or not isinstance(with_["key"], str) or not with_["key"]:
            return None
        cache: dict[str, Any] = {"key": with_["key"], "paths": paths}
        restore = [k.strip() for k in str(with_.get("restore-keys", "")).splitlines()]
        if any(restore):
            cache["restore_keys"] = [k for k in restore if k]
        if policies[action] != "pull-push":
            cache["policy"] = policies[action]
        return "cache", cache
    if action == "actions/upload-artifact" and "path" in keys <= {"path", "retention-days"}:
        paths = [p.strip() for p in str(with_["path"]).splitlines() if p.strip()]
        if not paths or any(p.startswith("!") for p in paths):
            return None
        spec: dict[str, Any] = {"paths": paths}
        days = with_.get("retention-days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                return None
            spec["expire_in"] = f"{days}d"
        return "upload_artifact", spec
    return None
