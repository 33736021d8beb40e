"""Benchmark: watching a 50-job GitHub run, ``GitHubBackend.poll_run`` against plain PyGithub.

A simulated GitHub, in process (``responses`` callbacks, no network), holds one workflow run
of 50 jobs that changes at a few polls only (``--changes``): at each change some jobs finish
and the run's ``updated_at`` moves; at the last poll the run completes. The server answers
like GitHub: the run carries a weak ETag that changes with it, ``If-None-Match`` with the
current ETag gets a 304 with no body, the jobs list pages with ``per_page`` (default 30, at
most 100) and a ``Link`` header, and every answer but a 304 spends one unit of a quota
(``x-ratelimit-remaining``), as GitHub documents for conditional requests.

Both watchers read the run once first, then poll it ``--polls`` (20) times:

  (a) ours   ``GitHubBackend.get_run``, then ``poll_run(run)`` each poll (the backend keeps
             the ETag and reads jobs only when the run changed);
  (b) plain  PyGithub as a script would use it: ``repo.get_workflow_run(id)`` and
             ``list(run.jobs())`` each poll (PyGithub's default 30 per page; its pause
             between requests turned off, so the script takes a second, not 16).

It prints, per poll, whether the run changed and the requests each watcher sent, then the
totals and the quota spent, and the goal: at most 2 requests per poll while nothing changes,
and no quota spent on 304s.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import github
import requests
import responses
from github import Auth

from codomyrmex.ci_cd_automation.backends.credentials import Credentials
from codomyrmex.ci_cd_automation.backends.github import GitHubBackend
from codomyrmex.ci_cd_automation.backends.transport import Policy

API = "https://api.github.com"
OWNER_REPO = "octo-org/octo-repo"
RUN_ID = 30433642
TOKEN = "ghp_BenchmarkOnlyNotARealToken000000000"
QUOTA = 5000


@dataclass
class Server:
    """One workflow run on a simulated GitHub, with a quota and per-poll request counts."""

    jobs: int
    version: int = 0
    done: int = 0
    completed: bool = False
    quota: int = QUOTA
    requests: Counter[str] = field(default_factory=Counter)
    not_modified: int = 0
    spent_on_304: int = 0

    def change(self, finished: int, *, complete: bool = False) -> None:
        self.version += 1
        self.done = min(self.jobs, self.done + finished)
        self.completed = complete
        if complete:
            self.done = self.jobs

    @property
    def etag(self) -> str:
        return f'W/"run-{RUN_ID}-v{self.version}"'

    def _answer(self, status: int, body: Any, extra: dict[str, str] | None = None) -> Any:
        if status != 304:
            self.quota -= 1
        headers = {"x-ratelimit-limit": str(QUOTA), "x-ratelimit-remaining": str(self.quota)}
        headers.update(extra or {})
        return status, headers, "" if body is None else json.dumps(body)

    def run(self, request: requests.PreparedRequest) -> Any:
        self.requests["run"] += 1
        if request.headers.get("If-None-Match") == self.etag:
            self.not_modified += 1
            before = self.quota
            answer = self._answer(304, None, {"ETag": self.etag})
            self.spent_on_304 += before - self.quota
            return answer
        return self._answer(200, self._run_payload(), {"ETag": self.etag})

    def job_page(self, request: requests.PreparedRequest) -> Any:
        self.requests["jobs"] += 1
        query = parse_qs(urlsplit(request.url or "").query)
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        items = [self._job(i) for i in range(self.jobs)]
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            base = f"{API}/repos/{OWNER_REPO}/actions/runs/{RUN_ID}/jobs"
            url = f"{base}?filter=latest&per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{url}>; rel="next"'
        return self._answer(200, {"total_count": len(items), "jobs": chunk}, headers)

    def _stamp(self) -> str:
        return f"2024-05-01T10:{self.version:02d}:00Z"

    def _run_payload(self) -> dict[str, Any]:
        base = f"{API}/repos/{OWNER_REPO}/actions/runs/{RUN_ID}"
        return {
            "id": RUN_ID,
            "name": "web-app",
            "head_branch": "main",
            "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
            "path": ".github/workflows/web-app.yml",
            "run_number": 562,
            "event": "push",
            "status": "completed" if self.completed else "in_progress",
            "conclusion": "success" if self.completed else None,
            "workflow_id": 159038,
            "url": base,
            "html_url": f"https://github.com/{OWNER_REPO}/actions/runs/{RUN_ID}",
            "created_at": "2024-05-01T10:00:00Z",
            "updated_at": self._stamp(),
            "run_attempt": 1,
            "run_started_at": "2024-05-01T10:00:00Z",
            "jobs_url": f"{base}/jobs",
            "logs_url": f"{base}/logs",
            "cancel_url": f"{base}/cancel",
            "rerun_url": f"{base}/rerun",
        }

    def _job(self, index: int) -> dict[str, Any]:
        finished = index < self.done
        job_id = 399444000 + index
        return {
            "id": job_id,
            "run_id": RUN_ID,
            "run_attempt": 1,
            "url": f"{API}/repos/{OWNER_REPO}/actions/jobs/{job_id}",
            "html_url": f"https://github.com/{OWNER_REPO}/actions/runs/{RUN_ID}/job/{job_id}",
            "status": "completed" if finished else "in_progress",
            "conclusion": "success" if finished else None,
            "created_at": "2024-05-01T10:00:01Z",
            "started_at": "2024-05-01T10:00:02Z",
            "completed_at": self._stamp() if finished else None,
            "name": f"job-{index:02d}",
            "steps": [],
            "labels": ["ubuntu-latest"],
            "workflow_name": "web-app",
            "head_branch": "main",
        }


def serve(rsps: responses.RequestsMock, server: Server) -> None:
    prefix = rf"{re.escape(API)}(?::443)?/repos/{re.escape(OWNER_REPO)}/actions/runs/{RUN_ID}"
    rsps.add_callback("GET", re.compile(prefix + r"(?:\?.*)?$"), callback=server.run)
    rsps.add_callback("GET", re.compile(prefix + r"/jobs(?:\?.*)?$"), callback=server.job_page)


def schedule(polls: int, changes: int) -> dict[int, tuple[int, bool]]:
    """Poll number -> (jobs finishing, run completes): ``changes`` polls spread evenly, the
    last poll completing the run."""
    points = sorted({round((i + 1) * polls / changes) for i in range(changes)})
    return {p: (10, p == points[-1]) for p in points}


def watch(kind: str, polls: int, changes: int, jobs: int) -> tuple[list[int], Server]:
    server = Server(jobs)
    plan = schedule(polls, changes)
    per_poll: list[int] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, server)
        if kind == "ours":
            backend = GitHubBackend(
                OWNER_REPO, Credentials("github", API, TOKEN), policy=Policy(sleep=lambda s: None)
            )
            run = backend.get_run(str(RUN_ID))
            for poll in range(1, polls + 1):
                if poll in plan:
                    server.change(plan[poll][0], complete=plan[poll][1])
                before = sum(server.requests.values())
                changed = backend.poll_run(run)
                run = changed or run
                per_poll.append(sum(server.requests.values()) - before)
            assert run.finished and len(run.jobs) == jobs
        else:
            # PyGithub's pause of 0.25 s between requests is turned off: requests are
            # counted here, not seconds, and it would only make the script slower.
            gh = github.Github(
                auth=Auth.Token(TOKEN), base_url=API, lazy=True, seconds_between_requests=None
            )
            repo = gh.get_repo(OWNER_REPO)
            list(repo.get_workflow_run(RUN_ID).jobs())
            for poll in range(1, polls + 1):
                if poll in plan:
                    server.change(plan[poll][0], complete=plan[poll][1])
                before = sum(server.requests.values())
                plain = repo.get_workflow_run(RUN_ID)
                found = list(plain.jobs())
                per_poll.append(sum(server.requests.values()) - before)
            assert plain.status == "completed" and len(found) == jobs
    return per_poll, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--changes", type=int, default=4, help="polls at which the run changes")
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args(argv)
    plan = schedule(args.polls, args.changes)
    ours, ours_server = watch("ours", args.polls, args.changes, args.jobs)
    plain, plain_server = watch("plain", args.polls, args.changes, args.jobs)

    print(f"{args.jobs}-job run, {args.polls} polls, changes at polls {sorted(plan)}")
    print(f"{'poll':>4}  {'changed':<7}  {'(a) ours':>8}  {'(b) plain':>9}")
    for poll, (a, b) in enumerate(zip(ours, plain, strict=True), start=1):
        print(f"{poll:>4}  {'yes' if poll in plan else '':<7}  {a:>8}  {b:>9}")
    for label, counts, server in (
        ("(a) ours ", ours, ours_server),
        ("(b) plain", plain, plain_server),
    ):
        total = sum(server.requests.values())
        print(
            f"{label}: {sum(counts)} requests in the polls ({total} with the first read: "
            f"{server.requests['run']} run, {server.requests['jobs']} jobs), "
            f"{server.not_modified} answered 304, quota spent {QUOTA - server.quota}, "
            f"of it on 304s {server.spent_on_304}"
        )
    quiet = [n for poll, n in enumerate(ours, start=1) if poll not in plan]
    worst = max(quiet, default=0)
    meets = worst <= 2 and ours_server.spent_on_304 == 0
    print(
        f"goal: at most 2 requests per unchanged poll, no quota on 304s: (a) at most {worst} "
        f"per unchanged poll, {ours_server.spent_on_304} quota on 304s -> "
        f"{'meets' if meets else 'misses'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
