"""GitHub runs (trigger, get, poll, list, cancel, logs) against documented-shape payloads.

Every test registers exactly the requests the scenario costs, asserts that all of them fired,
and counts them where the count is the point (polling). No test waits: the policy's sleep is
a list that records the pauses.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from codomyrmex.ci_cd_automation.backends.base import RemoteRun
from codomyrmex.ci_cd_automation.backends.credentials import Credentials
from codomyrmex.ci_cd_automation.backends.github import GitHubBackend, normalise_status
from codomyrmex.ci_cd_automation.backends.transport import Policy
from codomyrmex.ci_cd_automation.errors import ProviderError, RateLimitError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api" / "github"
API = "https://api.github.com"
REPO = f"{API}/repos/octo-org/octo-repo"
RUN = f"{REPO}/actions/runs/30433642"
JOBS = f"{RUN}/jobs"
WORKFLOW = f"{REPO}/actions/workflows/web-app.yml"
TOKEN = "ghp_N0tARealTokenButTreatedAsOne1234567"
ETAG = 'W/"7d2b3c1f0e9a8b7c6d5e4f3a2b1c0d9e"'
ETAG2 = 'W/"0a1b2c3d4e5f60718293a4b5c6d7e8f9"'
JOBS_QUERY = matchers.query_param_matcher({"filter": "latest", "per_page": "100"})
DISPATCHED_AT = "Wed, 01 May 2024 10:00:04 GMT"


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def backend(waits: list[float] | None = None) -> GitHubBackend:
    sleeps = waits if waits is not None else []
    policy = Policy(max_attempts=2, sleep=sleeps.append, jitter=lambda: 0.0)
    return GitHubBackend("octo-org/octo-repo", Credentials("github", API, TOKEN), policy=policy)


def mock() -> responses.RequestsMock:
    return responses.RequestsMock(assert_all_requests_are_fired=True)


def run_payload(**changes: Any) -> Any:
    payload = load("workflow_run")
    payload.update(changes)
    return payload


def job_payload(job_id: int, name: str, **changes: Any) -> Any:
    payload = copy.deepcopy(load("workflow_jobs")["jobs"][0])
    payload.update(id=job_id, name=name, **changes)
    return payload


# --- status mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "conclusion", "job", "expected"),
    [
        ("queued", None, False, "queued"),
        ("requested", None, False, "queued"),
        ("pending", None, False, "queued"),
        ("waiting", None, True, "queued"),
        ("waiting", None, False, "running"),
        ("in_progress", None, False, "running"),
        ("in_progress", None, True, "running"),
        ("completed", "success", False, "success"),
        ("completed", "neutral", False, "success"),
        ("completed", "failure", False, "failed"),
        ("completed", "timed_out", True, "failed"),
        ("completed", "startup_failure", False, "failed"),
        ("completed", "action_required", False, "failed"),
        ("completed", "cancelled", True, "cancelled"),
        ("completed", "stale", False, "cancelled"),
        ("completed", "skipped", True, "skipped"),
        ("completed", None, False, "failed"),
        ("completed", "something_new", False, "failed"),
    ],
)
def test_status_mapping(status: str, conclusion: str | None, job: bool, expected: str) -> None:
    assert normalise_status(status, conclusion, job=job) == expected


# --- get_run ----------------------------------------------------------------------------------


def test_get_run_reads_the_run_and_every_page_of_jobs() -> None:
    """3 requests: the run, jobs page 1 (Link: next), jobs page 2."""
    page1 = load("workflow_jobs")
    page2 = {"total_count": 3, "jobs": [job_payload(399444498, "deploy", conclusion="skipped")]}
    next_url = f"{JOBS}?filter=latest&per_page=100&page=2"
    link = f'<{next_url}>; rel="next", <{next_url}>; rel="last"'
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG})
        rsps.get(JOBS, json=page1, headers={"Link": link}, match=[JOBS_QUERY])
        rsps.get(
            f"{JOBS}",
            json=page2,
            match=[
                matchers.query_param_matcher({"filter": "latest", "per_page": "100", "page": "2"})
            ],
        )
        run = backend().get_run("30433642")
        assert len(rsps.calls) == 3
    assert run.provider == "github"
    assert run.target == "octo-org/octo-repo"
    assert run.provider_run_id == "30433642"
    assert run.pipeline == "web-app"
    assert run.status == "running"
    assert run.event == "manual"
    assert (run.ref, run.sha) == ("main", "acb5820ced9479c074f688cc328bf03f341a511d")
    assert run.attempt == 1
    assert run.created_at == datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC)
    assert run.started_at == datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC)
    assert run.finished_at is None
    assert run.url == "https://github.com/octo-org/octo-repo/actions/runs/30433642"
    assert [(j.provider_job_id, j.name, j.status) for j in run.jobs] == [
        ("399444496", "build", "success"),
        ("399444497", "unit (3.12)", "running"),
        ("399444498", "deploy", "skipped"),
    ]
    build = run.jobs[0]
    assert build.queued_at == datetime(2024, 5, 1, 10, 0, 10, tzinfo=UTC)
    assert build.started_at == datetime(2024, 5, 1, 10, 0, 20, tzinfo=UTC)
    assert build.finished_at == datetime(2024, 5, 1, 10, 0, 50, tzinfo=UTC)
    assert build.url == "https://github.com/octo-org/octo-repo/actions/runs/30433642/job/399444496"
    assert run.jobs[1].finished_at is None


def test_get_run_of_a_finished_run_without_jobs() -> None:
    """1 request; a completed run finished at its last update; run_attempt carried."""
    payload = run_payload(status="completed", conclusion="failure", run_attempt=2, event="push")
    with mock() as rsps:
        rsps.get(RUN, json=payload)
        run = backend().get_run("30433642", jobs=False)
    assert (run.status, run.attempt, run.event, run.jobs) == ("failed", 2, "push", ())
    assert run.finished_at == datetime(2024, 5, 1, 10, 1, tzinfo=UTC)
    assert run.finished


def test_get_run_refuses_a_run_id_that_is_not_a_number() -> None:
    with pytest.raises(ValueError, match="must be a number"):
        backend().get_run("../../secrets")


# --- poll_run ---------------------------------------------------------------------------------


def test_poll_unchanged_is_one_conditional_request_and_no_jobs_request() -> None:
    b = backend()
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG})
        rsps.get(JOBS, json=load("workflow_jobs"), match=[JOBS_QUERY])
        run = b.get_run("30433642")
    with mock() as rsps:
        rsps.get(RUN, status=304, match=[matchers.header_matcher({"If-None-Match": ETAG})])
        assert b.poll_run(run) is None
        assert len(rsps.calls) == 1


def test_poll_changed_reads_the_run_and_its_jobs() -> None:
    b = backend()
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG})
        run = b.get_run("30433642", jobs=False)
    done = run_payload(status="completed", conclusion="success", updated_at="2024-05-01T10:02:00Z")
    finished_jobs = {
        "total_count": 2,
        "jobs": [
            job_payload(399444496, "build"),
            job_payload(399444497, "unit (3.12)", conclusion="failure"),
        ],
    }
    with mock() as rsps:
        rsps.get(
            RUN,
            json=done,
            headers={"ETag": ETAG2},
            match=[matchers.header_matcher({"If-None-Match": ETAG})],
        )
        rsps.get(JOBS, json=finished_jobs, match=[JOBS_QUERY])
        polled = b.poll_run(run)
        assert len(rsps.calls) == 2
    assert polled is not None
    assert polled.status == "success"
    assert [j.status for j in polled.jobs] == ["success", "failed"]
    # The next poll sends the new ETag.
    with mock() as rsps:
        rsps.get(RUN, status=304, match=[matchers.header_matcher({"If-None-Match": ETAG2})])
        assert b.poll_run(polled) is None


def test_poll_running_run_whose_updated_at_moved_reads_jobs() -> None:
    """Same status, new updated_at (a job moved): run + jobs, returned as changed."""
    b = backend()
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG})
        rsps.get(JOBS, json=load("workflow_jobs"), match=[JOBS_QUERY])
        run = b.get_run("30433642")
    moved_jobs = {
        "total_count": 2,
        "jobs": [job_payload(399444496, "build"), job_payload(399444497, "unit (3.12)")],
    }
    with mock() as rsps:
        rsps.get(RUN, json=run_payload(updated_at="2024-05-01T10:01:30Z"), headers={"ETag": ETAG2})
        rsps.get(JOBS, json=moved_jobs, match=[JOBS_QUERY])
        polled = b.poll_run(run)
    assert polled is not None
    assert [j.status for j in polled.jobs] == ["success", "success"]


def test_poll_new_etag_but_nothing_moved_costs_no_jobs_request() -> None:
    b = backend()
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG})
        run = b.get_run("30433642", jobs=False)
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG2})
        assert b.poll_run(run) is None
        assert len(rsps.calls) == 1


def test_poll_with_an_older_copy_returns_what_the_304_confirms() -> None:
    """The backend read a newer state than the caller holds: 304, and the newer state back."""
    b = backend()
    with mock() as rsps:
        rsps.get(RUN, json=load("workflow_run"), headers={"ETag": ETAG})
        rsps.get(JOBS, json=load("workflow_jobs"), match=[JOBS_QUERY])
        current = b.get_run("30433642")
    older = RemoteRun(
        provider="github",
        target="octo-org/octo-repo",
        provider_run_id="30433642",
        pipeline="web-app",
        status="queued",
    )
    with mock() as rsps:
        rsps.get(RUN, status=304)
        assert b.poll_run(older) == current
        assert len(rsps.calls) == 1


# --- list_runs --------------------------------------------------------------------------------


def test_list_runs_every_page_lazily_newest_first() -> None:
    since = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # 09:00 in UTC-3 would read differently
    query = {
        "per_page": "100",
        "exclude_pull_requests": "true",
        "created": ">=2024-05-01T12:00:00Z",
    }
    page2_url = f"{REPO}/actions/runs?per_page=100&created=%3E%3D2024-05-01T12%3A00%3A00Z&page=2"
    page2 = {"total_count": 3, "workflow_runs": [run_payload(id=30433500, event="schedule")]}
    with mock() as rsps:
        rsps.get(
            f"{REPO}/actions/runs",
            json=load("workflow_runs"),
            headers={"Link": f'<{page2_url}>; rel="next"'},
            match=[matchers.query_param_matcher(query)],
        )
        runs = b_runs = backend().list_runs(since=since)
        first = next(runs)
        assert len(rsps.calls) == 1  # lazily: page 2 not read yet
        rsps.get(
            f"{REPO}/actions/runs",
            json=page2,
            match=[
                matchers.query_param_matcher(
                    {"per_page": "100", "created": ">=2024-05-01T12:00:00Z", "page": "2"}
                )
            ],
        )
        rest = list(b_runs)
        assert len(rsps.calls) == 2
    assert [r.provider_run_id for r in [first, *rest]] == ["30433642", "30433600", "30433500"]
    assert [r.event for r in [first, *rest]] == ["manual", "push", "schedule"]
    assert all(r.jobs == () for r in rest)


def test_list_runs_wants_an_aware_time() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next(backend().list_runs(since=datetime(2024, 5, 1)))


# --- trigger ----------------------------------------------------------------------------------


def test_trigger_with_run_details_reads_the_run() -> None:
    """2 requests: the dispatch (200 with workflow_run_id), the run."""
    with mock() as rsps:
        dispatch = rsps.post(f"{WORKFLOW}/dispatches", json=load("dispatch_run_details"))
        rsps.get(RUN, json=load("workflow_run"))
        run = backend().trigger(ref="main", inputs={"target": "staging"}, workflow="web-app.yml")
        assert len(rsps.calls) == 2
    assert json.loads(dispatch.calls[0].request.body) == {
        "ref": "main",
        "inputs": {"target": "staging"},
        "return_run_details": True,
    }
    assert (run.provider_run_id, run.status, run.jobs) == ("30433642", "running", ())


def test_trigger_without_run_details_finds_the_run_after_one_empty_listing() -> None:
    """Default branch read, dispatch (204), listing (empty), pause, listing (found)."""
    waits: list[float] = []
    query = {
        "event": "workflow_dispatch",
        "branch": "main",
        "created": ">=2024-05-01T09:59:54Z",  # the server's Date minus 10 s
        "per_page": "100",
        "exclude_pull_requests": "true",
    }
    listing = {
        "total_count": 2,
        "workflow_runs": [
            run_payload(id=30433650, created_at="2024-05-01T10:00:09Z"),  # someone after us
            run_payload(id=30433642),
        ],
    }
    with mock() as rsps:
        rsps.get(REPO, json=load("repo"))
        dispatch = rsps.post(f"{WORKFLOW}/dispatches", status=204, headers={"Date": DISPATCHED_AT})
        rsps.get(
            f"{WORKFLOW}/runs",
            json=load("workflow_runs_empty"),
            match=[matchers.query_param_matcher(query)],
        )
        rsps.get(f"{WORKFLOW}/runs", json=listing, match=[matchers.query_param_matcher(query)])
        run = backend(waits).trigger(workflow=".github/workflows/web-app.yml")
        assert len(rsps.calls) == 4
    assert json.loads(dispatch.calls[0].request.body)["ref"] == "main"
    assert run.provider_run_id == "30433642"
    assert waits == [1.0]


def test_trigger_twice_does_not_return_the_same_run() -> None:
    b = backend()
    listing = {"total_count": 1, "workflow_runs": [run_payload()]}
    second = {"total_count": 2, "workflow_runs": [run_payload(id=30433700), run_payload()]}
    with mock() as rsps:
        rsps.post(f"{WORKFLOW}/dispatches", status=204, headers={"Date": DISPATCHED_AT})
        rsps.get(f"{WORKFLOW}/runs", json=listing)
        rsps.post(f"{WORKFLOW}/dispatches", status=204, headers={"Date": DISPATCHED_AT})
        rsps.get(f"{WORKFLOW}/runs", json=second)
        first = b.trigger(ref="main", workflow="web-app.yml")
        again = b.trigger(ref="main", workflow="web-app.yml")
    assert (first.provider_run_id, again.provider_run_id) == ("30433642", "30433700")


def test_trigger_resends_without_run_details_when_the_server_refuses_the_field() -> None:
    refusal = {"message": 'Invalid request.\n\n"return_run_details" is not a permitted key.'}
    with mock() as rsps:
        rsps.post(f"{WORKFLOW}/dispatches", status=422, json=refusal)
        plain = rsps.post(f"{WORKFLOW}/dispatches", status=204, headers={"Date": DISPATCHED_AT})
        rsps.get(f"{WORKFLOW}/runs", json={"total_count": 1, "workflow_runs": [run_payload()]})
        run = backend().trigger(ref="main", workflow="web-app.yml")
    assert "return_run_details" not in json.loads(plain.calls[0].request.body)
    assert run.provider_run_id == "30433642"


def test_trigger_gives_up_after_bounded_listings() -> None:
    waits: list[float] = []
    with mock() as rsps:
        rsps.post(f"{WORKFLOW}/dispatches", status=204, headers={"Date": DISPATCHED_AT})
        listing = rsps.get(f"{WORKFLOW}/runs", json=load("workflow_runs_empty"))
        with pytest.raises(ProviderError, match="no run of it appeared after 10 listings"):
            backend(waits).trigger(ref="main", workflow="web-app.yml")
        assert listing.call_count == 10
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0]


def test_trigger_refused_is_one_provider_error_and_never_repeated() -> None:
    with mock() as rsps:
        dispatch = rsps.post(
            f"{WORKFLOW}/dispatches",
            status=422,
            json=load("dispatch_no_trigger"),
            headers={"X-GitHub-Request-Id": "CAFE:1234"},
        )
        with pytest.raises(ProviderError) as caught:
            backend().trigger(ref="main", workflow="web-app.yml")
        assert dispatch.call_count == 1
    error = caught.value
    assert error.status_code == 422
    assert error.request_id == "CAFE:1234"
    assert "workflow_dispatch" in str(error)
    assert str(error).startswith('github octo-org/octo-repo: dispatch "web-app.yml" on "main"')


def test_trigger_is_not_repeated_after_a_server_error() -> None:
    """A dispatch that may have reached GitHub would start a second run: sent once."""
    with mock() as rsps:
        dispatch = rsps.post(f"{WORKFLOW}/dispatches", status=502, json={"message": "Bad"})
        with pytest.raises(ProviderError, match="502"):
            backend().trigger(ref="main", workflow="web-app.yml")
        assert dispatch.call_count == 1


def test_trigger_needs_a_workflow() -> None:
    with pytest.raises(ValueError, match="workflow file"):
        backend().trigger(ref="main")


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_posts_to_the_run() -> None:
    with mock() as rsps:
        cancel = rsps.post(f"{RUN}/cancel", status=202, json={})
        backend().cancel("30433642")
    assert cancel.calls[0].request.body in (None, b"", "")


def test_cancel_of_a_finished_run_is_a_provider_error() -> None:
    with mock() as rsps:
        rsps.post(f"{RUN}/cancel", status=409, json=load("cancel_completed"))
        with pytest.raises(ProviderError, match="409 Cannot cancel a workflow run") as caught:
            backend().cancel("30433642")
    assert caught.value.status_code == 409


# --- logs -------------------------------------------------------------------------------------

SIGNED = "https://productionresultssa0.blob.core.windows.net/actions-results/abc/logs/job.txt"


def test_logs_of_one_job_by_name_follow_the_redirect_without_the_token() -> None:
    with mock() as rsps:
        rsps.get(JOBS, json=load("workflow_jobs"), match=[JOBS_QUERY])
        rsps.get(
            f"{REPO}/actions/jobs/399444496/logs",
            status=302,
            headers={"Location": f"{SIGNED}?sv=2021&sig=c2VjcmV0"},
        )
        download = rsps.get(SIGNED, body="\ufeff2024-05-01T10:00:21Z build ok\n")
        text = backend().logs("30433642", job="build")
    assert text == "2024-05-01T10:00:21Z build ok\n"
    assert "Authorization" not in download.calls[0].request.headers


def test_a_log_download_goes_through_the_transport_budget_and_retries() -> None:
    """3 requests: the 302, the signed URL answering 502, then 200; all counted."""
    waits: list[float] = []
    github = backend(waits)
    with mock() as rsps:
        rsps.get(f"{REPO}/actions/jobs/7/logs", status=302, headers={"Location": SIGNED})
        rsps.get(SIGNED, status=502)
        rsps.get(SIGNED, body="seven\n")
        assert github.logs("30433642", job="7") == "seven\n"
    assert github.budget is not None and github.budget.used == 3
    assert len(waits) == 1


def test_logs_of_every_job_in_order() -> None:
    jobs = {
        "total_count": 3,
        "jobs": [
            job_payload(1, "build"),
            job_payload(2, "lint", conclusion="failure"),
            job_payload(3, "deploy", conclusion="skipped"),
        ],
    }
    with mock() as rsps:
        rsps.get(JOBS, json=jobs, match=[JOBS_QUERY])
        for job_id, line in ((1, "built"), (2, "lint failed")):
            rsps.get(
                f"{REPO}/actions/jobs/{job_id}/logs",
                status=302,
                headers={"Location": f"{SIGNED}{job_id}"},
            )
            rsps.get(f"{SIGNED}{job_id}", body=line)
        text = backend().logs("30433642")
    assert text == (
        "== build ==\nbuilt\n== lint ==\nlint failed\n== deploy ==\n(no log: the job is skipped)\n"
    )


def test_logs_by_job_id_and_unknown_job_name() -> None:
    with mock() as rsps:
        rsps.get(f"{REPO}/actions/jobs/7/logs", status=302, headers={"Location": SIGNED})
        rsps.get(SIGNED, body="seven\n")
        assert backend().logs("30433642", job="7") == "seven\n"
    with mock() as rsps:
        rsps.get(JOBS, json=load("workflow_jobs"), match=[JOBS_QUERY])
        with pytest.raises(ValueError, match=r'no job "tset".*"build", "unit \(3.12\)"'):
            backend().logs("30433642", job="tset")


def test_expired_log_link_is_a_provider_error_without_the_signature() -> None:
    with mock() as rsps:
        rsps.get(
            f"{REPO}/actions/jobs/7/logs",
            status=302,
            headers={"Location": f"{SIGNED}?sig=c2VjcmV0"},
        )
        rsps.get(SIGNED, status=403, body="AuthenticationFailed")
        with pytest.raises(ProviderError) as caught:
            backend().logs("30433642", job="7")
    assert "403" in str(caught.value)
    assert "c2VjcmV0" not in str(caught.value)


# --- errors -----------------------------------------------------------------------------------


def test_missing_run_is_a_provider_error_naming_the_step() -> None:
    with mock() as rsps:
        rsps.get(RUN, status=404, json=load("not_found"), headers={"X-GitHub-Request-Id": "AB:12"})
        with pytest.raises(ProviderError) as caught:
            backend().get_run("30433642")
    assert str(caught.value) == "github octo-org/octo-repo: read run 30433642: 404 Not Found"
    assert (caught.value.status_code, caught.value.request_id) == (404, "AB:12")


def test_bad_credentials_never_show_the_token() -> None:
    with mock() as rsps:
        rsps.get(RUN, status=401, json=load("bad_credentials"))
        with pytest.raises(ProviderError) as caught:
            backend().poll_run(
                RemoteRun("github", "octo-org/octo-repo", "30433642", "web-app", "queued")
            )
    assert "401" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


def test_rate_limit_while_polling_is_a_rate_limit_error() -> None:
    """Primary limit, reset far away: the transport refuses to wait that long."""
    limited = {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "4102444800",  # 2100-01-01
        "x-github-request-id": "RL:1",
    }
    with mock() as rsps:
        rsps.get(RUN, status=403, json={"message": "API rate limit exceeded"}, headers=limited)
        with pytest.raises(RateLimitError) as caught:
            backend().get_run("30433642")
    assert caught.value.request_id == "RL:1"
    assert caught.value.provider == "github"
    assert "primary rate limit" in str(caught.value)
