"""How requests reach GitHub and GitLab: retries, rate limits, a request budget, redacted traces.

One ``HTTPAdapter`` (``_Transport``) carries the policy, mounted on every session of both
libraries, whose own retries and pauses are off. A POST is repeated after a server error only
inside ``with repeatable():``; the budget is checked before every attempt, so it is never
exceeded; every wait goes through ``Policy.on_wait`` and ``Policy.sleep``; no credential
reaches a trace or a message. See docs/sync-and-polling.md (requests).
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import github
import gitlab
import requests
from github import Auth
from github.GithubException import GithubException, RateLimitExceededException
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass
from gitlab.exceptions import GitlabError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ..errors import ProviderError, RateLimitError
from .credentials import Credentials

USER_AGENT = "codomyrmex-ci-cd"
TIMEOUT = 30
_REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# GitHub documents these endings for secondary limits; PyGithub matches the same ones.
_SECONDARY_MARKERS = (
    "secondary rate limit",
    "please retry your request again later.",
    "please wait a few minutes before you try again.",
)
_REQUEST_ID_HEADERS = ("x-github-request-id", "x-request-id")
_TRACED_RESPONSE_HEADERS = (
    "x-github-request-id",
    "x-request-id",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
)
_SECRET_HEADER = re.compile(r"authorization|token|cookie|secret|password|api-key", re.IGNORECASE)
# Query parameters named like credentials: private_token, access_token, sig, X-Amz-Signature...
_SECRET_PARAM = re.compile(
    r"(?:^|[_-])(?:token|secret|password|sig|signature|credential|key)$", re.IGNORECASE
)
_SECRET_TEXT = [
    # Tokens by their documented prefixes: GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)
    # and GitLab (glpat-, gldt-, glrt-, glptt-, glcbt-, ...).
    (re.compile(r"\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{8,}"), "***"),
    (re.compile(r"\bgl[a-z]{2,5}-[A-Za-z0-9_\-]{8,}"), "***"),
    (re.compile(r"\b(token|bearer|basic)\s+[A-Za-z0-9_\-.=:+/]{8,}", re.IGNORECASE), r"\1 ***"),
    (
        re.compile(r"((?:private_|access_|job_)?token|sig|signature)=[^&\s]+", re.IGNORECASE),
        r"\1=***",
    ),
]
_MESSAGE_LIMIT = 300

# The last failed answer seen by a transport in this context: python-gitlab's errors keep no
# headers, so ``translate_error`` finds a GitLab request id here.
_last_failure: ContextVar[tuple[str, int, str | None] | None] = ContextVar(
    "cicd_last_failure", default=None
)
_repeatable: ContextVar[bool] = ContextVar("cicd_repeatable_post", default=False)


@dataclass(frozen=True)
class Policy:
    """How hard a client tries, how long it may wait, and who hears about it.

    Attributes:
        max_attempts: tries per request, the first included.
        max_wait: a single wait longer than this raises ``RateLimitError`` instead.
        backoff: base of the exponential backoff (full jitter) for 5xx, connection errors and
            rate limits that say nothing about when to come back.
        budget: requests allowed in total for the client's life; never exceeded.
        on_wait: told before every wait, e.g.
            ``github: secondary rate limit, waiting 60 s (retry 2 of 4)``.
        sleep: how to wait; tests inject a fake.
        trace: ``--debug``: one line per request and per response, credentials redacted.
        clock: epoch seconds, to read ``x-ratelimit-reset`` and to pace writes.
        jitter: a number in [0, 1) that scales each backoff.
        write_interval: GitHub only: the least pause between the end of a write (POST, PUT,
            PATCH, DELETE) and the start of the next, as GitHub asks of integrations to stay
            clear of secondary limits. Pacing is not a wait for a limit: it is not told to
            ``on_wait``.
    """

    max_attempts: int = 5
    max_wait: float = 300.0
    backoff: float = 1.0
    budget: int | None = None
    on_wait: Callable[[str], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    trace: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.time
    jitter: Callable[[], float] = random.random
    write_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.max_wait < 0 or self.backoff < 0 or self.write_interval < 0:
            raise ValueError("max_wait, backoff and write_interval must not be negative")
        if self.budget is not None and self.budget < 0:
            raise ValueError(f"budget must not be negative, not {self.budget}")


class RequestBudget:
    """The requests a client has sent (retries included) and how many it may still send."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    @property
    def remaining(self) -> int | None:
        """Requests left, or None when there is no limit."""
        return None if self.limit is None else self.limit - self._used

    def _take(self, provider: str) -> None:
        with self._lock:
            if self.limit is not None and self._used >= self.limit:
                raise RateLimitError(
                    f"{provider}: the request budget of {self.limit} is spent; nothing more sent",
                    provider=provider,
                )
            self._used += 1

    def __repr__(self) -> str:
        return f"RequestBudget(used={self._used}, limit={self.limit})"


@contextlib.contextmanager
def repeatable() -> Iterator[None]:
    """POSTs sent inside are known to be safe to repeat after a 5xx or a lost connection."""
    token = _repeatable.set(True)
    try:
        yield
    finally:
        _repeatable.reset(token)


def github_client(
    credentials: Credentials, policy: Policy | None = None, *, per_page: int = 100
) -> tuple[github.Github, RequestBudget]:
    """A PyGithub client whose every request goes through ``policy``, and its budget."""
    policy = policy or Policy()
    budget = RequestBudget(policy.budget)
    adapter = _Transport("github", policy, budget, credentials.token)
    client = github.Github(
        auth=Auth.Token(credentials.token),
        base_url=credentials.url,
        timeout=TIMEOUT,
        user_agent=USER_AGENT,
        per_page=per_page,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    _route_requester(client, adapter)
    return client, budget


def gitlab_client(
    credentials: Credentials, policy: Policy | None = None, *, per_page: int = 100
) -> tuple[gitlab.Gitlab, RequestBudget]:
    """A python-gitlab client whose every request goes through ``policy``, and its budget."""
    policy = policy or Policy()
    budget = RequestBudget(policy.budget)
    adapter = _Transport("gitlab", policy, budget, credentials.token)
    session = requests.Session()
    # A session without auth of its own reads ~/.netrc and would add a second credential.
    session.auth = _no_auth
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    client = gitlab.Gitlab(
        credentials.url,
        private_token=credentials.token,
        session=session,
        timeout=TIMEOUT,
        per_page=per_page,
        user_agent=USER_AGENT,
        retry_transient_errors=False,
    )
    return client, budget


def download_session(
    provider: str, policy: Policy, budget: RequestBudget, *, scrub: str = ""
) -> requests.Session:
    """A session for addresses outside the provider's API (signed log links): the same policy,
    budget and traces as the client, and no credential at all (no auth, no ``~/.netrc``).
    ``scrub`` is a token to hide from traces should a server echo it."""
    session = requests.Session()
    session.auth = _no_auth
    adapter = _Transport(provider, policy, budget, scrub)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def translate_error(provider: str, exc: Exception) -> ProviderError:
    """What a library raised, as a ``ProviderError`` (``RateLimitError`` for limits): one line
    naming the provider and the status, with the request id, and no credential."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, GithubException):
        return _from_github(provider, exc)
    if isinstance(exc, GitlabError):
        return _from_gitlab(provider, exc)
    if isinstance(exc, requests.RequestException):
        return _from_requests(provider, exc)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ProviderError(_one_line(f"{provider}: {text}"), provider=provider)


class _Transport(HTTPAdapter):
    """Sends one request under a policy: paces, counts, retries, waits, traces."""

    def __init__(self, provider: str, policy: Policy, budget: RequestBudget, token: str) -> None:
        super().__init__(max_retries=0)
        self.provider = provider
        self.policy = policy
        self.budget = budget
        self._token = token
        self._last_write: float | None = None
        self._lock = threading.Lock()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        # PyGithub spells the default port out (https://api.github.com:443/...); the same URL
        # without it reads better in traces and is what tests register with ``responses``.
        request.url = _without_default_port(request.url or "")
        replayable = not hasattr(request.body, "read")
        max_attempts = self.policy.max_attempts if replayable else 1
        repeat_errors = method in _REPEATABLE_METHODS or _repeatable.get()
        url = _redact_url(request.url or "")
        attempt = 0
        while True:
            attempt += 1
            self._pace(method)
            self.budget._take(self.provider)
            self._trace(f"> {method} {url} {_redact_headers(request.headers)}")
            started = time.perf_counter()
            try:
                response = super().send(
                    request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                    proxies=proxies,
                )  # fmt: skip
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._trace(f"< {method} {url} failed: {type(exc).__name__}")
                if attempt >= max_attempts or not (repeat_errors or _never_sent(exc)):
                    raise
                self._wait(self._backoff(attempt), f"{type(exc).__name__}", attempt)
                continue
            finally:
                if method in _WRITE_METHODS:
                    self._last_write = self.policy.clock()
            elapsed = time.perf_counter() - started
            self._trace(
                f"< {response.status_code} {method} {url} ({elapsed:.2f} s)"
                f"{_traced_headers(response.headers)}"
            )
            if response.status_code >= 400:
                _last_failure.set((self.provider, response.status_code, _request_id(response)))
            limit = self._rate_limit(response, attempt)
            if limit is not None:
                reason, wait = limit
                self._check_limit(response, reason, wait, attempt, max_attempts)
                response.close()
                self._wait(wait, reason, attempt)
                continue
            if (
                response.status_code in _TRANSIENT_STATUSES
                and repeat_errors
                and attempt < max_attempts
            ):
                response.close()
                self._wait(self._backoff(attempt), f"server error {response.status_code}", attempt)
                continue
            return response

    def _rate_limit(self, response: requests.Response, attempt: int) -> tuple[str, float] | None:
        """Why ``response`` is a rate-limit answer and how long to wait, or None."""
        status, headers = response.status_code, response.headers
        retry_after = _retry_after(headers.get("retry-after"), self.policy.clock)
        if self.provider == "github":
            if status not in (403, 429):
                return None
            primary = headers.get("x-ratelimit-remaining") == "0"
            secondary = any(m in _message(response).lower() for m in _SECONDARY_MARKERS)
            if status == 403 and not (primary or secondary or retry_after is not None):
                return None  # a refusal (permissions, blocked), not a limit
            reason = "primary rate limit" if primary and not secondary else "secondary rate limit"
            if retry_after is not None:
                return reason, retry_after
            reset = _number(headers.get("x-ratelimit-reset"))
            if primary and reset is not None:
                # One second more: GitHub's clock and ours differ, and reset is rounded down.
                return reason, max(reset - self.policy.clock(), 0.0) + 1.0
            # GitHub: "wait for at least one minute", then exponentially longer.
            return reason, 60.0 * 2.0 ** (attempt - 1)
        if status != 429:
            return None
        if retry_after is not None:
            return "rate limit", retry_after
        reset = _number(headers.get("ratelimit-reset"))
        if reset is not None:
            return "rate limit", max(reset - self.policy.clock(), 0.0) + 1.0
        return "rate limit", self._backoff(attempt)

    def _check_limit(
        self,
        response: requests.Response,
        reason: str,
        wait: float,
        attempt: int,
        max_attempts: int,
    ) -> None:
        if attempt < max_attempts and wait <= self.policy.max_wait:
            return
        if attempt >= max_attempts:
            tries = "1 try" if attempt == 1 else f"{attempt} tries"
            message = f"{self.provider}: {reason} still hit after {tries}"
        else:
            message = (
                f"{self.provider}: {reason}; the next try would wait {_seconds(wait)} s, "
                f"more than the {_seconds(self.policy.max_wait)} s allowed"
            )
        raise RateLimitError(
            message,
            provider=self.provider,
            status_code=response.status_code,
            request_id=_request_id(response),
            retry_after=wait,
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_wait, self.policy.backoff * 2.0 ** (attempt - 1))
        return ceiling * self.policy.jitter()

    def _wait(self, seconds: float, reason: str, attempt: int) -> None:
        if self.budget.remaining == 0:
            raise RateLimitError(
                f"{self.provider}: {reason}, and the request budget of {self.budget.limit} "
                "is spent; no retry sent",
                provider=self.provider,
            )
        retries = self.policy.max_attempts - 1
        if self.policy.on_wait is not None:
            self.policy.on_wait(
                f"{self.provider}: {reason}, waiting {_seconds(seconds)} s "
                f"(retry {attempt} of {retries})"
            )
        self.policy.sleep(seconds)

    def _pace(self, method: str) -> None:
        if self.provider != "github" or method not in _WRITE_METHODS:
            return
        with self._lock:
            if self._last_write is None:
                return
            pause = self.policy.write_interval - (self.policy.clock() - self._last_write)
        if pause > 0:
            self.policy.sleep(min(pause, self.policy.write_interval))

    def _trace(self, line: str) -> None:
        if self.policy.trace is not None:
            text = f"{self.provider}: {line}"
            self.policy.trace(text.replace(self._token, "***") if self._token else text)


def _route_requester(client: github.Github, adapter: _Transport) -> None:
    """Make every connection of ``client``'s requester send through ``adapter``.

    PyGithub has no per-client hook for its session (``Requester.injectConnectionClasses``
    changes every client in the process), so this client's requester gets connection classes
    of its own, set on the instance where the class-wide ones are looked up. A requester
    derived later with ``withLazy``/``withAuth`` would not carry them: backends use the client
    as given.
    """

    class _Https(HTTPSRequestsConnectionClass):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.session.mount("https://", adapter)

    class _Http(HTTPRequestsConnectionClass):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.session.mount("http://", adapter)

    requester = client.requester
    names = ("_Requester__connectionClass", "_Requester__connection")
    if not all(hasattr(requester, name) for name in names):
        raise RuntimeError("this PyGithub version builds its connections differently")
    https = urlsplit(requester.base_url).scheme == "https"
    requester._Requester__httpsConnectionClass = _Https  # type: ignore[attr-defined]
    requester._Requester__httpConnectionClass = _Http  # type: ignore[attr-defined]
    requester._Requester__connectionClass = _Https if https else _Http  # type: ignore[attr-defined]


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _never_sent(exc: Exception) -> bool:
    """Whether the connection failed before any byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


def _retry_after(value: str | None, clock: Callable[[], float]) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date."""
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - clock(), 0.0)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500]
    return _flatten(data.get("message", "")) if isinstance(data, dict) else ""


def _request_id(response: requests.Response) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        if response.headers.get(name):
            return str(response.headers[name])
    return None


def _without_default_port(url: str) -> str:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return url
    if port is None or port != default or parts.hostname is None:
        return url
    netloc = parts.netloc.rpartition(":")[0]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _redact_headers(headers: Mapping[str, str]) -> str:
    shown = []
    for name, value in headers.items():
        if _SECRET_HEADER.search(name):
            scheme, _, rest = str(value).partition(" ")
            value = f"{scheme} ***" if rest and scheme.isalpha() else "***"
        shown.append(f"{name}: {value}")
    return "; ".join(shown)


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    if netloc != parts.netloc:
        netloc = f"***@{netloc}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*/,:"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _traced_headers(headers: Mapping[str, str]) -> str:
    shown = [f"{name}: {headers[name]}" for name in _TRACED_RESPONSE_HEADERS if name in headers]
    return f" {'; '.join(shown)}" if shown else ""


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _from_github(provider: str, exc: GithubException) -> ProviderError:
    headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
    data = exc.data
    detail = _flatten(data.get("message")) if isinstance(data, dict) else ""
    detail = detail or exc.message or ""
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        detail = f"{detail} ({_flatten(data['errors'][0])})"
    request_id = headers.get("x-github-request-id")
    message = _one_line(f"{provider}: {exc.status} {detail}".rstrip())
    limited = isinstance(exc, RateLimitExceededException) or exc.status == 429
    if exc.status == 403 and headers.get("x-ratelimit-remaining") == "0":
        limited = True
    if limited:
        wait = _retry_after(headers.get("retry-after"), time.time)
        reset = _number(headers.get("x-ratelimit-reset"))
        if wait is None and reset is not None and headers.get("x-ratelimit-remaining") == "0":
            wait = max(reset - time.time(), 0.0)
        return RateLimitError(
            message,
            provider=provider,
            status_code=exc.status,
            request_id=request_id,
            retry_after=wait,
        )
    return ProviderError(message, provider=provider, status_code=exc.status, request_id=request_id)


def _from_gitlab(provider: str, exc: GitlabError) -> ProviderError:
    code = exc.response_code
    detail = _flatten(exc.error_message)
    if code and detail.startswith(f"{code} "):
        detail = detail[len(f"{code} ") :]  # GitLab's messages often start with the status
    message = _one_line(f"{provider}: {code} {detail}" if code else f"{provider}: {detail}")
    last = _last_failure.get()
    request_id = last[2] if last is not None and last[:2] == (provider, code) else None
    cls = RateLimitError if code == 429 else ProviderError
    return cls(message, provider=provider, status_code=code, request_id=request_id)


def _from_requests(provider: str, exc: requests.RequestException) -> ProviderError:
    request = exc.request
    host = urlsplit(request.url or "").hostname if request is not None else None
    where = f" {host}" if host else ""
    response = exc.response
    status = response.status_code if response is not None else None
    request_id = _request_id(response) if response is not None else None
    if isinstance(exc, requests.Timeout):
        text = f"no answer from{where or ' the server'} in time ({type(exc).__name__})"
    elif isinstance(exc, requests.ConnectionError):
        text = f"cannot reach{where or ' the server'} ({type(exc).__name__})"
    elif status is not None:
        text = f"{status} {response.reason if response is not None else ''}"
    else:
        text = f"request failed ({type(exc).__name__})"
    return ProviderError(
        _one_line(f"{provider}: {text}"),
        provider=provider,
        status_code=status,
        request_id=request_id,
    )


def _flatten(value: object) -> str:
    """A provider's error detail (text, or GitLab's ``{"field": ["msg"]}``) as plain text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            text = _flatten(item)
            parts.append(text if key in ("message", "error", "base") else f"{key} {text}")
        return "; ".join(p for p in parts if p)
    if isinstance(value, list | tuple):
        return ", ".join(_flatten(item) for item in value)
    return "" if value is None else str(value)


def _one_line(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."
