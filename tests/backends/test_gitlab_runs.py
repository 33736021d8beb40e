"""GitLab runs (trigger, get_run, poll_run, list_runs, cancel, logs) against documented payloads.

Payloads are fixtures/api/gitlab/{pipeline,job,project}.json (the shapes of GitLab's Pipelines
and Jobs API docs) with a few fields changed per test. Every test registers exactly the calls
the backend must make and ``assert_all_requests_are_fired`` proves each happened; request
counts come from the client's budget. The transport's sleep is a fake: no test waits.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from codomyrmex.ci_cd_automation.backends.base import RemoteRun
from codomyrmex.ci_cd_automation.backends.credentials import Credentials
from codomyrmex.ci_cd_automation.backends.gitlab import GitLabBackend
from codomyrmex.ci_cd_automation.backends.transport import Policy
from codomyrmex.ci_cd_automation.errors import ProviderError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api" / "gitlab"
BASE = "https://gitlab.example.com"
PROJECT = "platform/ci/web-app"
API = f"{BASE}/api/v4/projects/platform%2Fci%2Fweb-app"
PIPELINES = f"{API}/pipelines"
RUN = "1187"
TOKEN = "glpat-Qx7secretsecret42Zz"
ETAG = 'W/"3f1c0d7e9a4b5c6d7e8f9a0b1c2d3e4f"'
# What GitLab puts in Link headers: the numeric project id and the path parameters repeated.
NUMERIC = f"{BASE}/api/v4/projects/4821"


@cache
def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def pipeline(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(_fixture("pipeline"))
    data.update(changes)
    if "id" in changes:
        data["web_url"] = f"{BASE}/{PROJECT}/-/pipelines/{changes['id']}"
    return data


def job(job_id: int, name: str, status: str = "success", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(_fixture("job"))
    data.update(id=job_id, name=name, status=status, **changes)
    data["web_url"] = f"{BASE}/{PROJECT}/-/jobs/{job_id}"
    return data


def page_headers(link: str | None, page: int, next_page: int | None) -> dict[str, str]:
    """GitLab's offset pagination headers; python-gitlab follows ``Link: rel="next"``."""
    headers = {
        "X-Page": str(page),
        "X-Per-Page": "100",
        "X-Next-Page": str(next_page) if next_page else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    return headers


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_backend(sleeps: list[float], **policy: Any) -> GitLabBackend:
    settings = {"sleep": sleeps.append, "jitter": lambda: 0.5, "backoff": 1.0, **policy}
    return GitLabBackend(PROJECT, Credentials("gitlab", BASE, TOKEN), policy=Policy(**settings))


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def used(backend: GitLabBackend) -> int:
    assert backend.budget is not None
    return backend.budget.used


def add_pipeline(
    rsps: responses.RequestsMock, data: dict[str, Any] | None = None, etag: str = ETAG
) -> None:
    data = data or pipeline()
    rsps.get(f"{PIPELINES}/{data['id']}", json=data, headers={"ETag": etag})


def add_jobs(rsps: responses.RequestsMock, *pages: list[dict[str, Any]], run: str = RUN) -> None:
    """The jobs of ``run``, newest first as GitLab lists them, in ``pages``."""
    first = {"per_page": "100", "include_retried": "true"}
    for number, jobs in enumerate(pages, start=1):
        last = number == len(pages)
        link = (
            None
            if last
            else f"{NUMERIC}/pipelines/{run}/jobs?id=4821&include_retried=true"
            f"&page={number + 1}&per_page=100&pipeline_id={run}"
        )
        if number == 1:
            url, query = f"{PIPELINES}/{run}/jobs", first
        else:
            url = f"{NUMERIC}/pipelines/{run}/jobs"
            query = {**first, "id": "4821", "page": str(number), "pipeline_id": run}
        rsps.get(
            url,
            json=jobs,
            headers=page_headers(link, number, None if last else number + 1),
            match=[matchers.query_param_matcher(query)],
        )


# -- trigger -------------------------------------------------------------------------------


def test_trigger_starts_a_pipeline_on_the_default_branch_with_inputs_as_variables(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(API, json=_fixture("project"))
    created = pipeline(status="created", source="api", started_at=None, queued_duration=None)
    rsps.post(f"{API}/pipeline", status=201, json=created)
    backend = make_backend(sleeps)
    run = backend.trigger(inputs={"TARGET": "staging", "DRY_RUN": "1"}, workflow="web-app.yml")

    assert body(rsps.calls[1]) == {
        "ref": "main",
        "variables": [{"key": "TARGET", "value": "staging"}, {"key": "DRY_RUN", "value": "1"}],
    }
    assert "web-app.yml" not in str(rsps.calls[1].request.url)  # workflow: ignored on GitLab
    assert (run.provider, run.target, run.provider_run_id, run.pipeline) == (
        "gitlab",
        PROJECT,
        RUN,
        PROJECT,
    )
    assert (run.status, run.event, run.ref, run.sha) == (
        "queued",
        "manual",
        "main",
        "7b5c3cc8be40ee161ae89a06bba6229da1032a0c",
    )
    assert run.created_at == datetime(2025, 3, 4, 10, 15, 2, 114000, tzinfo=UTC)
    assert run.started_at is None and run.jobs == () and run.attempt == 1
    assert run.url == f"{BASE}/{PROJECT}/-/pipelines/{RUN}"


def test_trigger_on_a_named_ref_without_inputs_sends_only_the_ref(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{API}/pipeline", status=201, json=pipeline(ref="release/2.x", status="pending"))
    run = make_backend(sleeps).trigger(ref="release/2.x")
    assert body(rsps.calls[0]) == {"ref": "release/2.x"}
    assert run.ref == "release/2.x" and run.status == "queued"


def test_a_trigger_whose_answer_is_a_502_is_not_sent_twice(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(f"{API}/pipeline", status=502, json={"message": "502 Bad Gateway"})
    with pytest.raises(ProviderError) as caught:
        make_backend(sleeps).trigger(ref="main")
    assert caught.value.status_code == 502 and sleeps == []  # a repeat could start two


def test_a_trigger_on_an_unknown_ref_is_one_line_without_the_token(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.post(
        f"{API}/pipeline",
        status=400,
        json=_fixture("run_errors")["reference_not_found"],
        headers={"X-Request-Id": "01JNRB2Q8K7W3X9Y"},
    )
    with pytest.raises(ProviderError) as caught:
        make_backend(sleeps).trigger(ref="nope")
    error = caught.value
    assert str(error) == (
        f'gitlab {PROJECT}: cannot start a pipeline on "nope": 400 Reference not found ({BASE})'
    )
    assert (error.status_code, error.request_id) == (400, "01JNRB2Q8K7W3X9Y")
    assert TOKEN not in f"{error} {error!r} {error.__cause__!r} {error.__cause__}"


# -- get_run -------------------------------------------------------------------------------


def test_get_run_reads_the_pipeline_and_every_page_of_its_jobs_with_retried_ones(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_pipeline(rsps, pipeline(status="failed", finished_at="2025-03-04T10:19:12.500Z"))
    # GitLab lists newest first: unit was retried twice, lint may fail.
    add_jobs(
        rsps,
        [
            job(50219, "deploy", "skipped", started_at=None, finished_at=None),
            job(50218, "unit", "failed"),
            job(50216, "unit", "failed"),
        ],
        [
            job(50214, "lint", "failed", allow_failure=True),
            job(50213, "unit", "failed"),
            job(50211, "build"),
        ],
    )
    backend = make_backend(sleeps)
    run = backend.get_run(RUN)

    assert run.status == "failed" and run.finished
    assert run.finished_at == datetime(2025, 3, 4, 10, 19, 12, 500000, tzinfo=UTC)
    assert [(j.name, j.provider_job_id, j.attempt, j.status) for j in run.jobs] == [
        ("build", "50211", 1, "success"),
        ("unit", "50213", 1, "failed"),
        ("lint", "50214", 1, "failed"),
        ("unit", "50216", 2, "failed"),
        ("unit", "50218", 3, "failed"),
        ("deploy", "50219", 1, "skipped"),
    ]
    assert [j.allowed_failure for j in run.jobs] == [False, False, True, False, False, False]
    build = run.jobs[0]
    assert build.started_at == datetime(2025, 3, 4, 10, 15, 9, 377000, tzinfo=UTC)
    assert build.queued_at == build.started_at - timedelta(seconds=6.912)
    assert build.finished_at == datetime(2025, 3, 4, 10, 15, 38, 20000, tzinfo=UTC)
    assert build.url == f"{BASE}/{PROJECT}/-/jobs/50211"
    deploy = run.jobs[-1]
    assert deploy.queued_at == datetime(2025, 3, 4, 10, 15, 2, 301000, tzinfo=UTC)  # created_at
    assert used(backend) == 3 and sleeps == []


def test_get_run_without_jobs_is_one_request(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_pipeline(rsps)
    backend = make_backend(sleeps)
    run = backend.get_run(RUN, jobs=False)
    assert run.status == "running" and run.jobs == () and used(backend) == 1


STATUS_TABLE = [
    ("created", "queued"),
    ("waiting_for_resource", "queued"),
    ("preparing", "queued"),
    ("pending", "queued"),
    ("scheduled", "queued"),
    ("running", "running"),
    ("canceling", "running"),
    ("success", "success"),
    ("failed", "failed"),
    ("canceled", "cancelled"),
    ("skipped", "skipped"),
    ("manual", "skipped"),
    ("a_status_from_the_future", "running"),
]


def test_every_gitlab_job_status_is_normalised(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_pipeline(rsps)
    add_jobs(
        rsps, [job(60000 + i, f"job-{i}", status) for i, (status, _) in enumerate(STATUS_TABLE)]
    )
    run = make_backend(sleeps).get_run(RUN)
    assert [j.status for j in run.jobs] == [normal for _, normal in STATUS_TABLE]


@pytest.mark.parametrize(("status", "normal"), STATUS_TABLE)
def test_every_gitlab_pipeline_status_is_normalised(
    rsps: responses.RequestsMock, sleeps: list[float], status: str, normal: str
) -> None:
    add_pipeline(rsps, pipeline(status=status))
    assert make_backend(sleeps).get_run(RUN, jobs=False).status == normal


@pytest.mark.parametrize(
    ("source", "event"),
    [
        ("push", "push"),
        ("merge_request_event", "pull_request"),
        ("external_pull_request_event", "pull_request"),
        ("schedule", "schedule"),
        ("web", "manual"),
        ("api", "manual"),
        ("trigger", "manual"),
        ("parent_pipeline", "parent_pipeline"),
    ],
)
def test_the_pipeline_source_becomes_the_event(
    rsps: responses.RequestsMock, sleeps: list[float], source: str, event: str
) -> None:
    add_pipeline(rsps, pipeline(source=source))
    assert make_backend(sleeps).get_run(RUN, jobs=False).event == event


def test_an_unknown_pipeline_is_one_line_with_the_request_id(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(
        f"{PIPELINES}/999",
        status=404,
        json=_fixture("run_errors")["pipeline_not_found"],
        headers={"X-Request-Id": "01JNRC0V1T6S"},
    )
    with pytest.raises(ProviderError) as caught:
        make_backend(sleeps).get_run("999")
    assert (
        str(caught.value) == f"gitlab {PROJECT}: cannot read pipeline 999: 404 Not found ({BASE})"
    )
    assert (caught.value.status_code, caught.value.request_id) == (404, "01JNRC0V1T6S")
    assert TOKEN not in f"{caught.value!r} {caught.value.__cause__!r}"


def test_a_run_id_that_is_not_a_number_sends_nothing(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    backend = make_backend(sleeps)
    for call in (backend.get_run, backend.cancel, backend.logs):
        with pytest.raises(ValueError, match="is a number"):
            call("../../users")
    assert len(rsps.calls) == 0


# -- poll_run ------------------------------------------------------------------------------


def read(rsps: responses.RequestsMock, backend: GitLabBackend) -> RemoteRun:
    add_pipeline(rsps)
    add_jobs(rsps, [job(50211, "build", "running", finished_at=None)])
    run = backend.get_run(RUN)
    rsps.calls.reset()
    return run


def test_an_unchanged_running_pipeline_costs_a_conditional_read_and_its_jobs(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    backend = make_backend(sleeps)
    run = read(rsps, backend)
    before = used(backend)
    rsps.get(
        f"{PIPELINES}/{RUN}",
        status=304,
        headers={"ETag": ETAG},
        match=[matchers.header_matcher({"If-None-Match": ETAG})],
    )
    add_jobs(rsps, [job(50211, "build", "running", finished_at=None)])  # jobs as they were
    assert backend.poll_run(run) is None
    assert used(backend) - before == 2


def test_a_job_change_inside_an_untouched_running_pipeline_is_seen(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    backend = make_backend(sleeps)
    run = read(rsps, backend)
    rsps.get(f"{PIPELINES}/{RUN}", status=304, headers={"ETag": ETAG})
    add_jobs(rsps, [job(50212, "test", "running", finished_at=None), job(50211, "build")])
    fresh = backend.poll_run(run)
    assert fresh is not None and fresh.status == run.status
    assert [(j.name, j.status) for j in fresh.jobs] == [("build", "success"), ("test", "running")]


def test_a_server_that_ignores_the_etag_is_judged_by_updated_at(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    backend = make_backend(sleeps)
    run = read(rsps, backend)
    add_pipeline(rsps, etag='W/"another"')  # 200, same body: nothing changed
    add_jobs(rsps, [job(50211, "build", "running", finished_at=None)])  # jobs as they were
    assert backend.poll_run(run) is None
    assert len(rsps.calls) == 2 and rsps.calls[0].request.headers["If-None-Match"] == ETAG


def test_a_changed_pipeline_is_read_again_with_its_jobs(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    backend = make_backend(sleeps)
    run = read(rsps, backend)
    done = pipeline(
        status="success",
        updated_at="2025-03-04T10:17:02.010Z",
        finished_at="2025-03-04T10:17:01.998Z",
    )
    add_pipeline(rsps, done, etag='W/"new"')
    add_jobs(rsps, [job(50212, "test"), job(50211, "build")])
    fresh = backend.poll_run(run)

    assert fresh is not None and fresh.status == "success" and fresh.finished
    assert [j.name for j in fresh.jobs] == ["build", "test"]
    assert len(rsps.calls) == 2  # the pipeline, then one page of jobs
    # The next poll is conditional on the new ETag and costs one request again.
    rsps.calls.reset()
    rsps.get(
        f"{PIPELINES}/{RUN}",
        status=304,
        match=[matchers.header_matcher({"If-None-Match": 'W/"new"'})],
    )
    assert backend.poll_run(fresh) is None and len(rsps.calls) == 1


def test_a_moved_updated_at_is_a_change_even_with_the_same_status(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    backend = make_backend(sleeps)
    run = read(rsps, backend)
    add_pipeline(rsps, pipeline(updated_at="2025-03-04T10:15:55.000Z"), etag='W/"new"')
    add_jobs(rsps, [job(50212, "test", "running", finished_at=None), job(50211, "build")])
    fresh = backend.poll_run(run)  # updated_at moved: a change, though the status did not
    assert fresh is not None and [j.status for j in fresh.jobs] == ["success", "running"]


def test_a_run_read_elsewhere_is_compared_with_the_run_given(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    run = read(rsps, make_backend(sleeps))
    other = make_backend(sleeps)  # e.g. a later `cicd status`, the run from the store
    add_pipeline(rsps)
    add_jobs(rsps, [job(50211, "build", "running", finished_at=None)])  # jobs as they were
    assert other.poll_run(run) is None
    assert "If-None-Match" not in rsps.calls[0].request.headers and used(other) == 2

    rsps.calls.reset()
    add_pipeline(rsps, pipeline(status="canceled", finished_at="2025-03-04T10:16:00.000Z"))
    add_jobs(rsps, [job(50211, "build", "canceled")])
    fresh = other.poll_run(replace(run, status="queued"))  # the store had an older state
    assert fresh is not None and fresh.status == "cancelled"
    assert fresh.jobs[0].status == "cancelled" and len(rsps.calls) == 2


# -- list_runs -----------------------------------------------------------------------------


def test_list_runs_pages_lazily_through_pipelines_updated_since(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    since = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    query = {
        "order_by": "updated_at",
        "sort": "desc",
        "per_page": "100",
        "updated_after": "2025-03-04T09:59:59.000Z",
    }
    link = (
        f"{NUMERIC}/pipelines?id=4821&order_by=updated_at&page=2&per_page=100&sort=desc"
        "&updated_after=2025-03-04T09%3A59%3A59.000Z"
    )
    first = [
        pipeline(id=1190, updated_at="2025-03-04T10:20:00.000Z"),
        pipeline(id=1189, updated_at="2025-03-04T10:10:00.000Z", source="schedule"),
    ]
    second = [
        pipeline(id=1189, updated_at="2025-03-04T10:10:00.000Z"),  # shifted by an update
        pipeline(id=1187, updated_at="2025-03-04T10:00:00.000Z", status="success"),
        pipeline(id=1186, updated_at="2025-03-04T09:59:59.500Z"),  # before since: dropped
    ]
    rsps.get(
        PIPELINES,
        json=first,
        headers=page_headers(link, 1, 2),
        match=[matchers.query_param_matcher(query)],
    )
    second_query = {**query, "id": "4821", "page": "2"}
    rsps.get(
        f"{NUMERIC}/pipelines",
        json=second,
        headers=page_headers(None, 2, None),
        match=[matchers.query_param_matcher(second_query)],
    )
    backend = make_backend(sleeps)
    runs = backend.list_runs(since=since)
    assert used(backend) == 0  # nothing is read before the first item is asked for
    assert next(runs).provider_run_id == "1190" and used(backend) == 1
    rest = list(runs)
    assert [r.provider_run_id for r in rest] == ["1189", "1187"]
    assert rest[0].event == "schedule" and rest[1].status == "success"
    assert all(r.jobs == () for r in rest) and used(backend) == 2


def test_a_429_without_headers_while_listing_waits_on_the_backoff(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    query = {"order_by": "updated_at", "sort": "desc", "per_page": "100"}
    limited = _fixture("run_errors")["too_many_requests"]
    rsps.get(PIPELINES, status=429, body=limited, match=[matchers.query_param_matcher(query)])
    rsps.get(
        PIPELINES,
        json=[pipeline()],
        headers=page_headers(None, 1, None),
        match=[matchers.query_param_matcher(query)],
    )
    waits: list[str] = []
    backend = make_backend(sleeps, on_wait=waits.append)
    assert [r.provider_run_id for r in backend.list_runs()] == [RUN]
    assert sleeps == [0.5] and used(backend) == 2
    assert waits == ["gitlab: rate limit, waiting 0.5 s (retry 1 of 4)"]


# -- cancel and logs -----------------------------------------------------------------------


def test_cancel_posts_to_the_pipeline_and_is_repeated_after_a_502(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    url = f"{PIPELINES}/{RUN}/cancel"
    rsps.post(url, status=502, json={"message": "502 Bad Gateway"})
    rsps.post(url, json=pipeline(status="canceling"))
    make_backend(sleeps).cancel(RUN)
    assert [c.request.method for c in rsps.calls] == ["POST", "POST"] and sleeps == [0.5]


def test_cancel_refused_is_one_line(rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    rsps.post(f"{PIPELINES}/{RUN}/cancel", status=403, json=_fixture("run_errors")["forbidden"])
    with pytest.raises(ProviderError) as caught:
        make_backend(sleeps).cancel(RUN)
    assert (
        str(caught.value)
        == f"gitlab {PROJECT}: cannot cancel pipeline {RUN}: 403 Forbidden ({BASE})"
    )


def add_trace(rsps: responses.RequestsMock, job_id: int, text: str) -> None:
    rsps.get(f"{API}/jobs/{job_id}/trace", body=text, content_type="text/plain")


RETRIED = [job(50213, "unit", "success"), job(50212, "unit", "failed"), job(50211, "build")]


def test_logs_of_a_job_by_name_is_its_last_attempt(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_jobs(rsps, RETRIED)
    add_trace(rsps, 50213, "\x1b[32;1m$ pytest -q\x1b[0;m\n3 passed\n")
    assert make_backend(sleeps).logs(RUN, job="unit") == "\x1b[32;1m$ pytest -q\x1b[0;m\n3 passed\n"


def test_logs_of_a_job_by_id(rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    add_jobs(rsps, RETRIED)
    add_trace(rsps, 50212, "1 failed")
    assert make_backend(sleeps).logs(RUN, job="50212") == "1 failed"


def test_logs_of_every_job_in_order_with_a_header_each(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_jobs(rsps, [job(50214, "deploy", "manual"), *RETRIED])
    add_trace(rsps, 50211, "built\n")
    add_trace(rsps, 50212, "1 failed")
    add_trace(rsps, 50213, "")
    assert make_backend(sleeps).logs(RUN) == (
        "== build ==\nbuilt\n"
        "== unit ==\n1 failed\n"
        "== unit (attempt 2) ==\n"
        "== deploy ==\n(no log: the job is skipped)\n"  # manual, never played: not asked for
    )


def test_logs_of_an_unknown_job_name_the_jobs_there_are(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_jobs(rsps, RETRIED)
    with pytest.raises(ValueError) as caught:
        make_backend(sleeps).logs(RUN, job="deploy")
    assert str(caught.value) == (
        f'gitlab {PROJECT}: pipeline {RUN} has no job "deploy" (jobs: "build", "unit")'
    )


def test_a_refused_token_on_logs_says_where_tokens_come_from(
    rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_jobs(rsps, RETRIED[2:])
    rsps.get(f"{API}/jobs/50211/trace", status=401, json=_fixture("run_errors")["unauthorized"])
    with pytest.raises(ProviderError) as caught:
        make_backend(sleeps).logs(RUN, job="build")
    text = str(caught.value)
    assert caught.value.status_code == 401 and "GITLAB_TOKEN" in text and "\n" not in text
    assert TOKEN not in f"{text} {caught.value!r} {caught.value.__cause__!r}"
