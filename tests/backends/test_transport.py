"""The transport under faults: retries, rate limits, the budget, waits told, redacted traces.

Every test drives the real client objects (PyGithub, python-gitlab) through ``responses``;
no test waits: ``sleep`` and ``clock`` are fakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import github
import gitlab
import pytest
import requests
import responses
from github.Requester import HTTPSRequestsConnectionClass, Requester
from urllib3.exceptions import MaxRetryError, NewConnectionError

from codomyrmex.ci_cd_automation.backends.credentials import Credentials
from codomyrmex.ci_cd_automation.backends.transport import (
    Policy,
    RequestBudget,
    github_client,
    gitlab_client,
    repeatable,
    translate_error,
)
from codomyrmex.ci_cd_automation.errors import ProviderError, RateLimitError

GH_TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
GL_TOKEN = "glpat-0123456789abcdefghij"
GH = Credentials("github", "https://api.github.com", GH_TOKEN)
GL = Credentials("gitlab", "https://gitlab.example.com", GL_TOKEN)
REPO_URL = "https://api.github.com/repos/octocat/hello-world"
BLOBS_URL = f"{REPO_URL}/git/blobs"
PROJECT_URL = "https://gitlab.example.com/api/v4/projects/group%2Fproject"
NOW = 1_700_000_000.0

# Shaped like GET /repos/{owner}/{repo} and GET /projects/:id in the providers' docs.
REPO = {
    "id": 1296269,
    "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
    "name": "hello-world",
    "full_name": "octocat/hello-world",
    "owner": {"login": "octocat", "id": 1, "type": "User"},
    "private": False,
    "html_url": "https://github.com/octocat/hello-world",
    "url": REPO_URL,
    "default_branch": "main",
}
PROJECT = {
    "id": 3,
    "name": "project",
    "path": "project",
    "path_with_namespace": "group/project",
    "default_branch": "main",
    "web_url": "https://gitlab.example.com/group/project",
}
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you "
    "try again. If you reach out to GitHub Support for help, please include the request ID "
    "D1E2:3F4A:5B6C:7D8E.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
PRIMARY = {
    "message": "API rate limit exceeded for user ID 1.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
BLOB = {"sha": "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15", "url": f"{BLOBS_URL}/3a0f86fb"}


class Recorder:
    """The fakes a policy is given, and what they were told."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.waits: list[str] = []
        self.trace: list[str] = []

    def policy(self, **overrides: Any) -> Policy:
        settings: dict[str, Any] = {
            "sleep": self.sleeps.append,
            "on_wait": self.waits.append,
            "trace": self.trace.append,
            "clock": lambda: NOW,
            "jitter": lambda: 0.5,
        }
        settings.update(overrides)
        return Policy(**settings)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_github_502_then_200_is_retried_after_a_jittered_backoff(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    rsps.get(REPO_URL, status=502, json={"message": "Server Error"})
    rsps.get(REPO_URL, json=REPO, headers={"x-github-request-id": "A1:B2"})
    client, budget = github_client(GH, rec.policy(backoff=2.0))
    assert client.get_repo("octocat/hello-world").default_branch == "main"
    assert len(rsps.calls) == 2 and budget.used == 2
    assert rec.sleeps == [1.0]  # full jitter: 0.5 of backoff * 2**0
    assert rec.waits == ["github: server error 502, waiting 1.0 s (retry 1 of 4)"]


def test_gitlab_502_then_200(rec: Recorder, rsps: responses.RequestsMock) -> None:
    rsps.get(PROJECT_URL, status=502, body="502 Bad Gateway")
    rsps.get(PROJECT_URL, json=PROJECT)
    client, budget = gitlab_client(GL, rec.policy())
    assert client.projects.get("group/project").default_branch == "main"
    assert budget.used == 2 and rec.sleeps == [0.5]
    assert rsps.calls[1].request.headers["PRIVATE-TOKEN"] == GL_TOKEN


def test_github_403_secondary_limit_with_retry_after(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    limited = {"retry-after": "60", "x-ratelimit-remaining": "4990", "x-ratelimit-reset": "1"}
    rsps.get(REPO_URL, status=403, json=SECONDARY, headers=limited)
    rsps.get(REPO_URL, json=REPO)
    client, _ = github_client(GH, rec.policy())
    client.get_repo("octocat/hello-world")
    assert rec.sleeps == [60.0]
    assert rec.waits == ["github: secondary rate limit, waiting 60 s (retry 1 of 4)"]


def test_github_secondary_limit_without_headers_waits_a_minute_then_longer(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    rsps.get(REPO_URL, status=403, json=SECONDARY, headers={"x-ratelimit-remaining": "4990"})
    rsps.get(REPO_URL, status=403, json=SECONDARY, headers={"x-ratelimit-remaining": "4990"})
    rsps.get(REPO_URL, json=REPO)
    client, _ = github_client(GH, rec.policy())
    client.get_repo("octocat/hello-world")
    assert rec.sleeps == [60.0, 120.0]
    assert rec.waits[1] == "github: secondary rate limit, waiting 120 s (retry 2 of 4)"


def test_github_429_primary_limit_waits_for_x_ratelimit_reset(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    spent = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": str(int(NOW) + 30),
        "x-ratelimit-resource": "core",
    }
    rsps.get(REPO_URL, status=429, json=PRIMARY, headers=spent)
    rsps.get(REPO_URL, json=REPO)
    client, _ = github_client(GH, rec.policy())
    client.get_repo("octocat/hello-world")
    assert rec.sleeps == [31.0]  # the reset epoch, plus a second for clock skew
    assert rec.waits == ["github: primary rate limit, waiting 31 s (retry 1 of 4)"]


def test_a_plain_github_403_is_an_answer_not_a_limit(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    refusal = {"message": "Resource not accessible by personal access token"}
    rsps.get(REPO_URL, status=403, json=refusal, headers={"x-ratelimit-remaining": "4999"})
    client, _ = github_client(GH, rec.policy())
    with pytest.raises(github.GithubException) as caught:
        client.get_repo("octocat/hello-world")
    error = translate_error("github", caught.value)
    assert type(error) is ProviderError and error.status_code == 403
    assert str(error) == "github: 403 Resource not accessible by personal access token"
    assert len(rsps.calls) == 1 and rec.sleeps == []


def test_gitlab_429_without_headers_backs_off(rec: Recorder, rsps: responses.RequestsMock) -> None:
    rsps.get(PROJECT_URL, status=429, body="Retry later\n", content_type="text/plain")
    rsps.get(PROJECT_URL, status=429, body="Retry later\n", content_type="text/plain")
    rsps.get(PROJECT_URL, json=PROJECT)
    client, budget = gitlab_client(GL, rec.policy(backoff=4.0))
    client.projects.get("group/project")
    assert rec.sleeps == [2.0, 4.0] and budget.used == 3
    assert rec.waits == [
        "gitlab: rate limit, waiting 2.0 s (retry 1 of 4)",
        "gitlab: rate limit, waiting 4.0 s (retry 2 of 4)",
    ]


def test_gitlab_429_honours_retry_after_then_ratelimit_reset(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    rsps.get(PROJECT_URL, status=429, body="Retry later\n", headers={"Retry-After": "12"})
    reset = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(NOW) + 20)}
    rsps.get(PROJECT_URL, status=429, body="Retry later\n", headers=reset)
    rsps.get(PROJECT_URL, json=PROJECT)
    client, _ = gitlab_client(GL, rec.policy())
    client.projects.get("group/project")
    assert rec.sleeps == [12.0, 21.0]


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_connection_error_then_200(
    provider: str, rec: Recorder, rsps: responses.RequestsMock
) -> None:
    if provider == "github":
        rsps.get(REPO_URL, body=requests.ConnectionError("connection reset by peer"))
        rsps.get(REPO_URL, json=REPO)
        github_client(GH, rec.policy())[0].get_repo("octocat/hello-world")
    else:
        rsps.get(PROJECT_URL, body=requests.ReadTimeout("read timed out"))
        rsps.get(PROJECT_URL, json=PROJECT)
        gitlab_client(GL, rec.policy())[0].projects.get("group/project")
    assert len(rsps.calls) == 2 and rec.sleeps == [0.5]
    error = "ConnectionError" if provider == "github" else "ReadTimeout"
    assert rec.waits == [f"{provider}: {error}, waiting 0.5 s (retry 1 of 4)"]


def test_max_attempts_bounds_the_tries_then_the_library_error_comes_back(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    rsps.get(REPO_URL, status=503, json={"message": "Service Unavailable"})
    client, budget = github_client(GH, rec.policy(max_attempts=3))
    with pytest.raises(github.GithubException) as caught:
        client.get_repo("octocat/hello-world")
    assert len(rsps.calls) == 3 and budget.used == 3 and len(rec.sleeps) == 2
    error = translate_error("github", caught.value)
    assert (error.status_code, str(error)) == (503, "github: 503 Service Unavailable")


def test_max_attempts_bounds_rate_limit_retries_with_a_rate_limit_error(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    rsps.get(PROJECT_URL, status=429, body="Retry later\n", headers={"X-Request-Id": "01HXYZ"})
    client, _ = gitlab_client(GL, rec.policy(max_attempts=2))
    with pytest.raises(RateLimitError) as caught:
        client.projects.get("group/project")
    assert len(rsps.calls) == 2 and len(rec.sleeps) == 1
    assert str(caught.value) == "gitlab: rate limit still hit after 2 tries"
    assert (caught.value.status_code, caught.value.request_id) == (429, "01HXYZ")


def test_a_wait_beyond_max_wait_raises_at_once(rec: Recorder, rsps: responses.RequestsMock) -> None:
    rsps.get(REPO_URL, status=429, json=SECONDARY, headers={"retry-after": "3600"})
    client, _ = github_client(GH, rec.policy(max_wait=300))
    with pytest.raises(RateLimitError) as caught:
        client.get_repo("octocat/hello-world")
    assert rec.sleeps == [] and rec.waits == [] and len(rsps.calls) == 1
    assert caught.value.retry_after == 3600.0
    assert str(caught.value) == (
        "github: secondary rate limit; the next try would wait 3600 s, more than the 300 s allowed"
    )


def test_the_budget_is_never_exceeded(rec: Recorder, rsps: responses.RequestsMock) -> None:
    rsps.get(REPO_URL, status=502, json={"message": "Server Error"})
    client, budget = github_client(GH, rec.policy(budget=2))
    with pytest.raises(RateLimitError, match="request budget of 2 is spent"):
        client.get_repo("octocat/hello-world")
    assert len(rsps.calls) == 2 and (budget.used, budget.remaining) == (2, 0)
    assert rec.sleeps == [0.5]  # no wait for a retry that could not be sent
    with pytest.raises(RateLimitError, match="nothing more sent"):
        client.get_repo("octocat/hello-world")
    assert len(rsps.calls) == 2 and budget.used == 2


def test_a_zero_budget_sends_nothing(rec: Recorder, rsps: responses.RequestsMock) -> None:
    client, budget = gitlab_client(GL, rec.policy(budget=0))
    with pytest.raises(RateLimitError):
        client.projects.get("group/project")
    assert len(rsps.calls) == 0 and budget.used == 0 and rec.trace == []


def _blob_request(rsps: responses.RequestsMock, *answers: Any) -> None:
    rsps.get(REPO_URL, json=REPO)
    for answer in answers:
        if isinstance(answer, Exception):
            rsps.post(BLOBS_URL, body=answer)
        else:
            rsps.post(BLOBS_URL, status=answer, json=BLOB if answer == 201 else {"message": "x"})


def test_a_post_is_not_repeated_after_a_5xx_or_a_lost_answer(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    _blob_request(rsps, 502)
    repo = github_client(GH, rec.policy())[0].get_repo("octocat/hello-world")
    with pytest.raises(github.GithubException):
        repo.create_git_blob("on: push\n", "utf-8")
    assert len(rsps.calls) == 2
    rsps.post(BLOBS_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(requests.ReadTimeout):
        repo.create_git_blob("on: push\n", "utf-8")
    assert len(rsps.calls) == 3 and rec.waits == []


def test_a_post_marked_repeatable_is_repeated(rec: Recorder, rsps: responses.RequestsMock) -> None:
    _blob_request(rsps, 502, 201)
    repo = github_client(GH, rec.policy())[0].get_repo("octocat/hello-world")
    with repeatable():
        blob = repo.create_git_blob("on: push\n", "utf-8")
    assert blob.sha == BLOB["sha"]
    bodies = [json.loads(call.request.body or "{}") for call in list(rsps.calls)[1:]]
    assert bodies == [{"content": "on: push\n", "encoding": "utf-8"}] * 2


def test_a_post_is_repeated_after_a_rate_limit_or_a_connection_never_opened(
    rec: Recorder, rsps: responses.RequestsMock
) -> None:
    refused = requests.ConnectionError(
        MaxRetryError(None, BLOBS_URL, NewConnectionError(None, "connection refused"))  # type: ignore[arg-type]
    )
    rsps.get(REPO_URL, json=REPO)
    rsps.post(BLOBS_URL, status=403, json=SECONDARY, headers={"retry-after": "5"})
    rsps.post(BLOBS_URL, body=refused)
    rsps.post(BLOBS_URL, status=201, json=BLOB)
    repo = github_client(GH, rec.policy())[0].get_repo("octocat/hello-world")
    repo.create_git_blob("on: push\n", "utf-8")
    assert len(rsps.calls) == 4
    assert rec.waits == [
        "github: secondary rate limit, waiting 5.0 s (retry 1 of 4)",
        "github: ConnectionError, waiting 1.0 s (retry 2 of 4)",
    ]


def test_github_writes_are_paced_quietly(rec: Recorder, rsps: responses.RequestsMock) -> None:
    _blob_request(rsps, 201, 201)
    repo = github_client(GH, rec.policy())[0].get_repo("octocat/hello-world")
    repo.create_git_blob("a\n", "utf-8")
    repo.create_git_blob("b\n", "utf-8")
    assert rec.sleeps == [1.0] and rec.waits == []  # the fake clock stands still


def test_trace_lines_redact_every_credential(rec: Recorder, rsps: responses.RequestsMock) -> None:
    rsps.get(REPO_URL, json=REPO, headers={"x-github-request-id": "A1:B2"})
    rsps.get(PROJECT_URL, json=PROJECT)
    rsps.get("https://gitlab.example.com/api/v4/version", json={"version": "17.0.0"})
    github_client(GH, rec.policy())[0].get_repo("octocat/hello-world")
    gl = gitlab_client(GL, rec.policy())[0]
    gl.projects.get("group/project")
    bearer = "Bearer eyJhbGciOiJSUzI1NiJ9.payload.signature"
    # An OAuth or CI token travels as a bearer token; a URL may carry one as a parameter.
    gl.session.get(
        "https://gitlab.example.com/api/v4/version?private_token=leaky-query-token",
        headers={"Authorization": bearer},
    )
    text = "\n".join(rec.trace)
    for secret in (GH_TOKEN, GL_TOKEN, "eyJhbGciOiJSUzI1NiJ9", "leaky-query-token"):
        assert secret not in text
    assert len(rec.trace) == 6 and all("\n" not in line for line in rec.trace)
    assert rec.trace[0].startswith(f"github: > GET {REPO_URL} ")
    assert "Authorization: token ***" in rec.trace[0]
    assert rec.trace[1].startswith(f"github: < 200 GET {REPO_URL} (")
    assert rec.trace[1].endswith("x-github-request-id: A1:B2")
    assert "PRIVATE-TOKEN: ***" in rec.trace[2]
    assert "Authorization: Bearer ***" in rec.trace[4] and "private_token=***" in rec.trace[4]


def test_translated_errors_are_one_line_with_request_ids_and_no_token(
    rsps: responses.RequestsMock,
) -> None:
    rsps.get(
        PROJECT_URL,
        status=404,
        json={"message": "404 Project Not Found"},
        headers={"X-Request-Id": "01HQ"},
    )
    gl = gitlab_client(GL, Policy(sleep=lambda _: None))[0]
    with pytest.raises(gitlab.GitlabGetError) as caught:
        gl.projects.get("group/project")
    error = translate_error("gitlab", caught.value)
    assert str(error) == "gitlab: 404 Project Not Found"
    assert (error.provider, error.status_code, error.request_id) == ("gitlab", 404, "01HQ")

    github_error = github.GithubException(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Reference", "code": "custom", "message": "exists"}],
        },
        {"x-github-request-id": "C3:D4"},
    )
    error = translate_error("github", github_error)
    assert error.request_id == "C3:D4" and "\n" not in str(error)
    assert str(error).startswith("github: 422 Validation Failed (resource Reference;")

    leaky = github.GithubException(
        401, {"message": f"Bad credentials\nfor token {GH_TOKEN} and {GL_TOKEN}"}, {}
    )
    text = str(translate_error("github", leaky))
    assert GH_TOKEN not in text and GL_TOKEN not in text and "\n" not in text

    limited = github.RateLimitExceededException(
        403, PRIMARY, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}
    )
    assert isinstance(translate_error("github", limited), RateLimitError)

    lost = requests.ConnectionError("boom", request=requests.Request("GET", REPO_URL).prepare())
    assert str(translate_error("github", lost)) == (
        "github: cannot reach api.github.com (ConnectionError)"
    )
    assert translate_error("github", error) is error


def test_clients_route_only_themselves(rec: Recorder, rsps: responses.RequestsMock) -> None:
    client, _ = github_client(GH, rec.policy())
    assert Requester._Requester__httpsConnectionClass is HTTPSRequestsConnectionClass  # type: ignore[attr-defined]
    rsps.get(REPO_URL, json=REPO)
    client.get_repo("octocat/hello-world")
    assert rec.trace  # went through this client's transport


def test_policy_and_budget_are_checked() -> None:
    with pytest.raises(ValueError):
        Policy(max_attempts=0)
    with pytest.raises(ValueError):
        Policy(budget=-1)
    budget = RequestBudget(None)
    assert budget.remaining is None and repr(budget) == "RequestBudget(used=0, limit=None)"
