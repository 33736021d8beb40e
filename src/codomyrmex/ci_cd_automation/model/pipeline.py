"""The backend-neutral pipeline model: the pydantic classes of a pipeline file.

Every model is frozen and forbids unknown keys (``StrictModel``); steps are a union
discriminated by their kind key. Only structural checks live here, the rest in ``model.rules``;
custom errors are ``PydanticCustomError`` with the rule id as type. See docs/model.md.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .durations import parse_duration
from .source import SourceMap

NAME_PATTERN = r"^[A-Za-z0-9._-]+$"
JOB_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DURATION_PATTERN = r"^[1-9][0-9]*(m|h|d|w)$"

PipelineName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=100)]
StageName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=100)]
JobName = Annotated[str, StringConstraints(pattern=JOB_NAME_PATTERN, max_length=100)]
StepId = Annotated[str, StringConstraints(pattern=JOB_NAME_PATTERN, max_length=100)]
VarName = Annotated[str, StringConstraints(pattern=IDENT_PATTERN, max_length=100)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
Scalar = str | int | float | bool


def duration_seconds(text: str) -> int:
    """Seconds in a ``Duration`` such as ``30m``, ``12h``, ``7d`` or ``2w``."""
    seconds = parse_duration(text)
    if seconds is None:
        raise ValueError(f'"{text}" is not a duration such as 30m, 12h, 7d or 2w')
    return seconds


def scalar_text(value: Scalar) -> str:
    """A scalar as the text an environment variable holds (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


NonEmptyText = Annotated[str, StringConstraints(min_length=1)]
# A filter lists at least one pattern: leaving it out matches everything, and an empty list
# would mean "match nothing", which GitHub's schema refuses and nobody means.
Patterns = Annotated[tuple[NonEmptyText, ...], Field(min_length=1)]
Seconds = Annotated[int, Field(gt=0, le=7 * 24 * 3600)]

# Names GitLab reads as global keywords, so they cannot be job names in .gitlab-ci.yml.
GITLAB_RESERVED_JOB_NAMES = frozenset(
    {
        "image",
        "services",
        "stages",
        "types",
        "before_script",
        "after_script",
        "variables",
        "cache",
        "include",
        "true",
        "false",
        "nil",
        "default",
        "workflow",
        "spec",
    }
)
RESERVED_VARIABLE_PREFIXES = ("CICD_", "GITHUB_", "CI_", "RUNNER_", "GITLAB_")

PermissionScope = Literal[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
]
PermissionLevel = Literal["read", "write", "none"]
Status = Literal["on_success", "on_failure", "always"]
Event = Literal["push", "pull_request", "schedule", "manual"]


class StrictModel(BaseModel):
    """Base of every model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- triggers -------------------------------------------------------------------------


class PushTrigger(StrictModel):
    """Run on pushes; ``None`` filters mean "any", GitHub's filter semantics otherwise."""

    branches: Patterns | None = None
    tags: Patterns | None = None
    paths: Patterns | None = None


class PullRequestTrigger(StrictModel):
    """Run on pull / merge requests targeting ``branches``."""

    branches: Patterns | None = None
    paths: Patterns | None = None


class ManualInput(StrictModel):
    """An input a person fills in when starting a run by hand."""

    description: str | None = None
    type: Literal["string", "boolean", "choice", "number"] | None = None
    default: Scalar | None = None
    options: tuple[str, ...] | None = None
    required: bool = False

    @property
    def kind(self) -> str:
        """The input type, ``choice`` when options are given and no type was."""
        if self.type is not None:
            return self.type
        return "choice" if self.options else "string"

    @model_validator(mode="after")
    def _default_fits(self) -> ManualInput:
        # "at" names the key the error is about, so the diagnostic points at it.
        if self.options and self.default is not None and str(self.default) not in self.options:
            raise PydanticCustomError(
                "invalid-value",
                'default "{default}" is not one of the options ({options})',
                {
                    "default": scalar_text(self.default),
                    "options": ", ".join(f'"{o}"' for o in self.options),
                    "at": "default",
                },
            )
        if self.type == "choice" and not self.options:
            raise PydanticCustomError(
                "invalid-value", "a choice input needs options", {"at": "type"}
            )
        if self.default is not None and not _fits_type(self.default, self.type):
            raise PydanticCustomError(
                "invalid-value",
                'default "{default}" is not a {type}',
                {"default": scalar_text(self.default), "type": str(self.type), "at": "default"},
            )
        return self


def _fits_type(value: Scalar, kind: str | None) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


class ManualTrigger(StrictModel):
    """Run when started by hand (GitHub workflow_dispatch, GitLab "Run pipeline")."""

    inputs: dict[VarName, ManualInput] = Field(default_factory=dict)


# POSIX cron fields as GitHub and GitLab read them: (name, lowest, highest, names).
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    (
        "month",
        1,
        12,
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ),
    ("day of week", 0, 6, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)


def cron_problem(expression: str) -> str | None:
    """Why a five-field cron expression is out of range, or ``None`` when it is fine."""
    for text, (field, low, high, names) in zip(expression.split(" "), _CRON_FIELDS, strict=False):
        for item in text.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f'{field} step "{step}" is not a positive number'
            if base == "*":
                continue
            for bound in base.split("-", 1):
                value = names.index(bound.lower()) + low if bound.lower() in names else None
                if value is None and not bound.isdigit():
                    return f'{field} "{bound}" is not a number'
                number = value if value is not None else int(bound)
                if not low <= number <= high:
                    return f"{field} {number} is outside {low}-{high}"
    return None


def _check_cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise PydanticCustomError(
            "invalid-value",
            "invalid cron schedule {cron}: {problem}",
            {"cron": f'"{value}"', "problem": problem},
        )
    return value


CRON_FIELD = r"[0-9A-Za-z*/,\-]+"
Cron = Annotated[
    str,
    StringConstraints(pattern=rf"^{CRON_FIELD}( {CRON_FIELD}){{4}}$"),
    AfterValidator(_check_cron),
]


class Triggers(StrictModel):
    """What starts the pipeline."""

    push: PushTrigger | None = None
    pull_request: PullRequestTrigger | None = None
    schedule: tuple[Cron, ...] = ()
    manual: ManualTrigger | None = None

    @field_validator("push", "pull_request", "manual", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        # `push:` with nothing after it means "on every push", as in GitHub's `on:` map.
        return {} if value is None else value

    def any(self) -> bool:
        """True when at least one trigger is set."""
        return (
            self.push is not None
            or self.pull_request is not None
            or bool(self.schedule)
            or self.manual is not None
        )


# --- job parts ------------------------------------------------------------------------


class RetryPolicy(StrictModel):
    """How often a failed job is tried, and for which kinds of failure."""

    max_attempts: Annotated[int, Field(ge=1, le=10)]
    on: tuple[Literal["any", "script_failure", "timeout", "runner_failure"], ...] = ("any",)


class When(StrictModel):
    """When a job runs: filters on the event, plus the status of its dependencies."""

    branches: Patterns | None = None
    tags: Patterns | None = None
    events: Annotated[tuple[Event, ...], Field(min_length=1)] | None = None
    paths: Patterns | None = None
    status: Status = "on_success"
    variables: dict[VarName, str] = Field(default_factory=dict)

    def has_filters(self) -> bool:
        return any(
            x is not None for x in (self.branches, self.tags, self.events, self.paths)
        ) or bool(self.variables)


class Matrix(BaseModel):
    """A build matrix: axes as keys, plus ``include`` and ``exclude`` (GitHub's semantics).

    The axes are open keys, so this one model allows extra fields; each must be a list of
    scalars and a valid identifier (GitLab exposes axes as variables).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, Annotated[tuple[Scalar, ...], Field(min_length=1)]] = Field(
        init=False
    )

    include: tuple[dict[VarName, Scalar], ...] = ()
    exclude: tuple[dict[VarName, Scalar], ...] = ()

    @property
    def axes(self) -> dict[str, tuple[Scalar, ...]]:
        return dict(self.__pydantic_extra__ or {})

    @model_validator(mode="before")
    @classmethod
    def _misspelt_include_exclude(cls, data: Any) -> Any:
        # An open mapping turns `exlude: [...]` into an axis; a list that is empty or holds
        # mappings can never be an axis, so such a key is a misspelt include or exclude.
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            if name in ("include", "exclude") or not isinstance(name, str):
                continue
            close = difflib.get_close_matches(name, ("include", "exclude"), n=1, cutoff=0.6)
            looks_like_entries = isinstance(value, list) and (
                not value or any(isinstance(v, dict) for v in value)
            )
            if close and looks_like_entries:
                raise PydanticCustomError(
                    "unknown-key",
                    'unknown key "{name}" in "matrix"; did you mean "{close}"?',
                    {"name": name, "close": close[0], "at": name, "at_key": True},
                )
        return data

    @model_validator(mode="after")
    def _axes_are_identifiers(self) -> Matrix:
        import re

        for name in self.axes:
            if not re.match(IDENT_PATTERN, name):
                raise PydanticCustomError(
                    "invalid-name",
                    "invalid matrix axis name \"{name}\"; start with a letter or '_', "
                    "then letters, digits and '_'",
                    {"name": name, "at": name, "at_key": True},
                )
        if not self.axes and not self.include:
            raise PydanticCustomError("invalid-value", "a matrix needs at least one axis", {})
        return self


class Artifacts(StrictModel):
    """Files a job keeps for the jobs after it and for people."""

    paths: Annotated[tuple[NonEmptyText, ...], Field(min_length=1)]
    expire_in: Duration | None = None
    when: Status = "on_success"


class Cache(StrictModel):
    """Folders kept between runs under a key (``hash(glob)`` makes content keys)."""

    key: NonEmptyText
    paths: Annotated[tuple[NonEmptyText, ...], Field(min_length=1)]
    restore_keys: tuple[NonEmptyText, ...] = ()
    policy: Literal["pull-push", "pull", "push"] = "pull-push"


class Service(StrictModel):
    """A side container (database, cache) reachable from the job by its alias."""

    image: NonEmptyText
    alias: JobName
    env: dict[VarName, Scalar] = Field(default_factory=dict)
    ports: tuple[Annotated[int, Field(gt=0, lt=65536)], ...] = ()


# GitHub shows the URL as a link and GitLab's schema requires http(s)://something (or a
# variable), so a URL is absolute, or starts with a template that yields one.
URL_PATTERN = r"^(https?://.+|\$\{\{.+)$"


class EnvironmentSpec(StrictModel):
    """A deployment environment with an optional URL."""

    name: NonEmptyText
    url: Annotated[str, StringConstraints(pattern=URL_PATTERN)] | None = None


EnvironmentRef = NonEmptyText | EnvironmentSpec


# --- steps ----------------------------------------------------------------------------


class StepBase(StrictModel):
    name: str | None = None
    id: StepId | None = None
    # Escape hatch: merged verbatim into every GitHub step this step becomes (an ``if:``
    # without a neutral form, say). GitLab has no per-step settings: it reports a loss.
    github: dict[str, Any] = Field(default_factory=dict)


class RunStep(StepBase):
    """A shell script."""

    run: NonEmptyText
    shell: Literal["bash", "sh", "pwsh", "python"] | None = None
    env: dict[VarName, Scalar] = Field(default_factory=dict)
    working_directory: NonEmptyText | None = None
    timeout: Seconds | None = None
    continue_on_error: bool = False


class CheckoutOptions(StrictModel):
    """How the repository is checked out (``depth: 0`` is the full history)."""

    depth: Annotated[int, Field(ge=0)] | None = None
    submodules: bool | Literal["recursive"] = False
    lfs: bool = False


class CheckoutStep(StepBase):
    """Check out the repository into the workspace."""

    checkout: CheckoutOptions = CheckoutOptions()

    @field_validator("checkout", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


class SetupOptions(StrictModel):
    """Tool versions to install."""

    python: str | None = None
    node: str | None = None
    go: str | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> SetupOptions:
        if not self.tools():
            raise PydanticCustomError(
                "invalid-value", "setup names no tool: use python, node or go", {}
            )
        return self

    def tools(self) -> dict[str, str]:
        return {
            k: v for k, v in (("python", self.python), ("node", self.node), ("go", self.go)) if v
        }


class SetupStep(StepBase):
    """Install a language toolchain."""

    setup: SetupOptions


class CacheStep(StepBase):
    """Restore a cache here and save it when the job ends."""

    cache: Cache


class UploadArtifactOptions(StrictModel):
    paths: Annotated[tuple[NonEmptyText, ...], Field(min_length=1)]
    expire_in: Duration | None = None
    when: Status = "on_success"


class UploadArtifactStep(StepBase):
    """Keep files as this job's artifacts."""

    upload_artifact: UploadArtifactOptions


class DownloadArtifactOptions(StrictModel):
    job: JobName
    path: NonEmptyText | None = None


class DownloadArtifactStep(StepBase):
    """Fetch one upstream job's artifacts explicitly."""

    download_artifact: DownloadArtifactOptions


class GitLabStepOverride(StrictModel):
    run: NonEmptyText


class UsesStep(StepBase):
    """A GitHub action; GitLab needs a ``gitlab: {run: ...}`` replacement or reports a loss."""

    uses: Annotated[str, StringConstraints(pattern=r"^(\./\S+|docker://\S+|[\w.-]+/[\w./-]+@\S+)$")]
    with_: dict[str, Scalar] = Field(default_factory=dict, alias="with")
    env: dict[VarName, Scalar] = Field(default_factory=dict)
    gitlab: GitLabStepOverride | None = None


STEP_KINDS = ("run", "checkout", "setup", "cache", "upload_artifact", "download_artifact", "uses")
_STEP_CLASSES: dict[type[BaseModel], str] = {
    RunStep: "run",
    CheckoutStep: "checkout",
    SetupStep: "setup",
    CacheStep: "cache",
    UploadArtifactStep: "upload_artifact",
    DownloadArtifactStep: "download_artifact",
    UsesStep: "uses",
}


def step_kind(value: Any) -> str | None:
    """The union tag (``run-step``...) of a step, or ``None`` when it has no kind or several.

    Tags are not key names, so error locations never confuse a tag with a key of the file.
    """
    if isinstance(value, BaseModel):
        kind = _STEP_CLASSES.get(type(value))
        return f"{kind}-step" if kind else None
    if isinstance(value, dict):
        kinds = [k for k in STEP_KINDS if k in value]
        return f"{kinds[0]}-step" if len(kinds) == 1 else None
    return None


Step = Annotated[
    Annotated[RunStep, Tag("run-step")]
    | Annotated[CheckoutStep, Tag("checkout-step")]
    | Annotated[SetupStep, Tag("setup-step")]
    | Annotated[CacheStep, Tag("cache-step")]
    | Annotated[UploadArtifactStep, Tag("upload_artifact-step")]
    | Annotated[DownloadArtifactStep, Tag("download_artifact-step")]
    | Annotated[UsesStep, Tag("uses-step")],
    Discriminator(
        step_kind,
        custom_error_type="step-kind",
        custom_error_message="a step needs exactly one of: " + ", ".join(STEP_KINDS),
    ),
]


# --- jobs, stages, pipeline -----------------------------------------------------------


class Job(StrictModel):
    """One unit of work on one runner (or one per matrix combination)."""

    name: JobName
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    needs: tuple[JobName, ...] = ()
    matrix: Matrix | None = None
    image: NonEmptyText | None = None
    runs_on: NonEmptyText | tuple[NonEmptyText, ...] | None = None
    env: dict[VarName, Scalar] = Field(default_factory=dict)
    secrets: tuple[VarName, ...] = ()
    services: tuple[Service, ...] = ()
    artifacts: Artifacts | None = None
    cache: Cache | None = None
    outputs: dict[VarName, str] = Field(default_factory=dict)
    timeout: Seconds | None = None
    retry_policy: RetryPolicy | None = None
    allow_failure: bool = False
    when: When | None = None
    environment: EnvironmentRef | None = None
    permissions: dict[PermissionScope, PermissionLevel] | None = None
    github: dict[str, Any] = Field(default_factory=dict)
    gitlab: dict[str, Any] = Field(default_factory=dict)


class Stage(StrictModel):
    """A group of jobs; ``dependencies`` make every job here need every job upstream."""

    name: StageName
    jobs: tuple[Job, ...] = ()
    dependencies: tuple[StageName, ...] = ()
    environment: EnvironmentRef | None = None
    timeout: Seconds | None = None
    retry_policy: RetryPolicy | None = None


class Defaults(StrictModel):
    """Settings every job gets unless it sets its own."""

    runs_on: NonEmptyText | tuple[NonEmptyText, ...] = "linux"
    image: NonEmptyText | None = None
    timeout: Seconds | None = None


def _least_privilege() -> dict[PermissionScope, PermissionLevel]:
    return {"contents": "read"}


def _default_triggers() -> Triggers:
    return Triggers(push=PushTrigger())


class PipelineConfig(StrictModel):
    """Pipeline-wide settings: triggers, variables, declared secrets, defaults, permissions."""

    triggers: Triggers = Field(default_factory=_default_triggers)
    variables: dict[VarName, Scalar] = Field(default_factory=dict)
    secrets: tuple[VarName, ...] = ()
    defaults: Defaults = Defaults()
    permissions: dict[PermissionScope, PermissionLevel] = Field(default_factory=_least_privilege)
    github: dict[str, Any] = Field(default_factory=dict)
    gitlab: dict[str, Any] = Field(default_factory=dict)


class PipelineSpec(StrictModel):
    """What a pipeline file holds."""

    name: PipelineName
    config: PipelineConfig = PipelineConfig()
    stages: Annotated[tuple[Stage, ...], Field(min_length=1)]


class Pipeline(PipelineSpec):
    """A pipeline as the API hands it out: the spec plus identity (id, created_at, status)."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    status: Literal["draft", "active", "archived"] = "draft"

    _source: SourceMap | None = PrivateAttr(default=None)

    @property
    def source(self) -> SourceMap | None:
        """Where each part of the pipeline came from, when it was loaded from a file."""
        return self._source

    def iter_jobs(self) -> Iterator[tuple[int, int, Stage, Job]]:
        """Every job with its stage, in file order."""
        for si, stage in enumerate(self.stages):
            for ji, job in enumerate(stage.jobs):
                yield si, ji, stage, job

    def spec_dict(self) -> dict[str, Any]:
        """The pipeline as file data (what ``cicd`` would read back)."""
        return self.model_dump(
            mode="json",
            by_alias=True,
            exclude={"id", "created_at", "status"},
            exclude_defaults=True,
        )
