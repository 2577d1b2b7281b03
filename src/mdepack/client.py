"""The one HTTP client every action goes through.

It owns what no action repeats: base URL, bearer token (refreshed once on 401), timeouts on every
request, the process-wide rate pacer, retries that obey the server, mapping of error bodies to
typed errors, paging, and one structured log line per call with no secret in it. Each attempt
runs through the chain of `mdepack.policies` (answer, pacing, auth, log, transport), which the
retry policy wraps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

import requests

from mdepack import auth, paths, policies, transport
from mdepack.clock import SYSTEM_CLOCK, Clock
from mdepack.config import Config
from mdepack.errors import ApiError
from mdepack.pacing import Pacer, pacer_for
from mdepack.retry import Failure, RetryPolicy

log = logging.getLogger("mdepack.api")
PAGE_SIZE = 10_000  # the API's $top cap
TELL_AFTER = 2.0  # waits this long or longer are told (`notice`); shorter ones pass unremarked


class ApiClient:
    """Calls the Defender for Endpoint API for one configuration."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        session: requests.Session | None = None,
        token_provider: auth.TokenProvider | None = None,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        progress: Callable[[int, int], None] | None = None,
        notice: Callable[[str], None] | None = None,
        wait_deadline: float | None = None,
        count: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SYSTEM_CLOCK
        timeout = (config.connect_timeout, config.read_timeout)
        self.session = session or transport.shared_session(config.verify, timeout)
        self._tokens = token_provider
        key = (config.api_url, str(config.tenant_id), str(config.client_id or "token"))
        self.pacer = pacer or pacer_for(
            key, config.rate_per_minute, config.rate_per_hour, self.clock, config.rate_store
        )
        self.retry = retry or RetryPolicy(config.max_attempts, config.retry_budget)
        self.calls = 0
        self._calls_lock = threading.Lock()
        # A sibling client for another API family counts its calls here too (see for_api).
        self._also_count = count
        self._siblings: dict[str, ApiClient] = {}
        self._root: ApiClient | None = None  # the client a sibling was made from
        # Called after each page of a listing with (items so far, calls so far).
        self.progress = progress
        # Told, in words, why a call waits and for how long (the CLI passes it on a terminal).
        self.notice = notice
        # The clock's monotonic time by which a wait for actions must end, whatever its
        # `wait_seconds` (a Lambda function's remaining time, less a margin for the report).
        self.wait_deadline = wait_deadline
        answers = policies.AnswerPolicy
        if config.api == "graph":
            from mdepack.graph import GraphAnswerPolicy

            answers = GraphAnswerPolicy
        self._send = policies.chain(
            [
                answers(self.clock),
                policies.TokenAtHandPolicy(lambda: self.tokens),
                policies.PacingPolicy(self.pacer, self._budget_wait),
                policies.AuthPolicy(lambda: self.tokens),
                policies.LogPolicy(self._count),
            ],
            policies.Transport(self.session, config),
        )

    def for_api(self, api: str) -> ApiClient:
        """The client for another API family (`graph`), made once: its own base URL, token
        audience, rate budget and error shape; this client's session, clock, notices, wait
        deadline and call count. ConfigError (nothing sent) when no token can be had for it."""
        if api == self.config.api:
            return self
        if self._root is not None:
            return self._root.for_api(api)
        if api not in self._siblings:
            self._siblings[api] = ApiClient(
                self.config.for_api(api),
                clock=self.clock,
                session=self.session,
                retry=self.retry,
                progress=self.progress,
                notice=self.notice,
                wait_deadline=self.wait_deadline,
                count=self._count,
            )
            self._siblings[api]._root = self
        return self._siblings[api]

    @property
    def tokens(self) -> auth.TokenProvider:
        """The token provider, made on first use (no MSAL import until a call needs a token)."""
        if self._tokens is None:
            self._tokens = auth.provider_for(self.config, self.session)
        return self._tokens

    def call(
        self,
        method: str,
        template: str,
        *,
        segments: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        missing_ok: bool = False,
        url: str | None = None,
        pacer: Pacer | None = None,
        form: Mapping[str, str | tuple[str, bytes]] | None = None,
    ) -> Any:
        """Send one request (with the retry policy) and return its parsed JSON body.

        `missing_ok`: a 404 returns None instead of raising NotFoundError.
        `url`: an absolute URL on the API host to use instead of the template (a nextLink).
        `pacer`: an endpoint's own budget, kept besides the process-wide one.
        `form`: a multipart/form-data body (field -> text, or (file name, bytes)) instead of JSON.
        """
        if url is None:
            url = self.config.api_url + paths.fill(template, dict(segments or {}))
            if params:
                url += "?" + urlencode(params, quote_via=quote, safe="$,'():/")
        request = policies.Request(method, url, template, body, missing_ok, pacer, form=form)
        return self._sent(request).data

    def streamed(
        self,
        method: str,
        template: str,
        *,
        body: Any = None,
        pacer: Pacer | None = None,
        timeout: float | None = None,
    ) -> Iterator[bytes]:
        """Send one request (retried until its answer's headers are in) and return its 2xx body
        unread, piece by piece, within the deadline and size cap. A failure while the body is
        read is raised as its error: rows already handed on cannot be taken back, so it is not
        retried."""
        url = self.config.api_url + paths.fill(template, {})
        request = policies.Request(
            method, url, template, body, pacer=pacer, streamed=True, timeout=timeout
        )
        return _raising(self._sent(request).chunks or iter(()))

    def _sent(self, request: policies.Request) -> policies.Response:
        """The response to `request`, through the policies, attempted as the retry policy says."""
        return self.retry.run(
            lambda attempt: self._send(replace(request, attempt=attempt)),
            clock=self.clock,
            refresh=self.tokens.refresh,
            method=request.method,
            path=request.template,
            on_wait=self._retry_wait if self.notice else None,
        )

    def linked_pages(
        self,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        page_size: int,
        pacer: Pacer | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of a collection that pages by `@odata.nextLink` alone (Graph's): the
        first page asks `$top`, each next link is followed only on the API host and never twice;
        more than `max_pages` pages is an error."""
        remaining = max_results
        top = page_size if remaining is None else min(page_size, remaining)
        url: str | None = None
        seen_links: set[str] = set()
        for _ in range(self.config.max_pages):
            query = None if url else {**(params or {}), "$top": top}
            data = self.call("GET", template, params=query, url=url, pacer=pacer)
            items = collection_items(data)
            if remaining is not None:
                items = items[:remaining]
                remaining -= len(items)
            yield items
            url = None if remaining == 0 or not items else self._next_link(data, seen_links)
            if url is None:
                return
        raise self._page_limit()

    def pages(
        self,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        max_results: int | None = None,
        pacer: Pacer | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of a collection by `$top`/`$skip` until a short page or `max_results`.

        A nextLink is only a hint: it is followed when a page comes back short, only on the API
        host, and never twice. More than `max_pages` pages is an error, not a silent cut.
        """
        remaining = max_results
        skip = 0
        next_url: str | None = None
        seen_links: set[str] = set()
        for page_number in range(1, self.config.max_pages + 1):
            top = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            query: dict[str, Any] = {**(params or {}), "$top": top}
            if skip:
                query["$skip"] = skip
            data = self.call(
                "GET", template, params=query, missing_ok=True, url=next_url, pacer=pacer
            )
            items = collection_items(data)
            if remaining is not None:
                items = items[:remaining]
                remaining -= len(items)
            skip += len(items)
            if self.progress is not None:
                self.progress(skip, self.calls)
            yield items
            if remaining == 0:
                return
            if len(items) >= top and next_url is None:
                continue
            next_url = self._next_link(data, seen_links) if items else None
            if next_url is None:
                return
            log.debug("following nextLink after page %d", page_number)
        raise self._page_limit()

    def _next_link(self, data: Any, seen: set[str]) -> str | None:
        """The answer's `@odata.nextLink` when it may be followed: on the API host (a bearer
        token is only ever sent there) and not followed before; it is then marked seen."""
        link = data.get("@odata.nextLink") if isinstance(data, dict) else None
        if not (
            isinstance(link, str)
            and link not in seen
            and link.startswith(self.config.api_url + "/")
        ):
            return None
        seen.add(link)
        return link

    def _page_limit(self) -> ApiError:
        return ApiError(
            f"listing stopped after {self.config.max_pages} pages (MDE_MAX_PAGES); "
            "narrow the filters or raise the limit",
            code="PageLimitExceeded",
        )

    def _count(self) -> None:
        with self._calls_lock:
            self.calls += 1
        if self._also_count is not None:
            self._also_count()

    def tell(self, seconds: float, text: str) -> None:
        """Say `text` through `notice` when a wait of `seconds` is long enough to be noticed."""
        if self.notice is not None and seconds >= TELL_AFTER:
            self.notice(text)

    def _budget_wait(self, seconds: float, budget: str) -> None:
        self.tell(seconds, f"waiting {seconds:.0f} s: the API allows {budget} per app and tenant")

    def _retry_wait(self, seconds: float, reason: str) -> None:
        self.tell(seconds, f"waiting {seconds:.0f} s before trying again ({reason})")

    def endpoint_pacer(self, name: str, per_minute: int, per_hour: int) -> Pacer:
        """The process-wide pacer of one endpoint with a budget of its own, for this tenant + app."""
        key = (self.config.api_url, str(self.config.tenant_id), str(self.config.client_id), name)
        return pacer_for(key, per_minute, per_hour, self.clock, self.config.rate_store)


def _raising(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, with a transport Failure while reading raised as the pack's error."""
    try:
        yield from chunks
    except Failure as failure:
        raise failure.error from None


def collection_items(data: Any) -> list[dict[str, Any]]:
    """The items of a collection answer: `{"value": [...]}` or a bare list; None is empty."""
    if data is None:
        return []
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("value"), list):
        return data["value"]  # type: ignore[no-any-return]
    raise ApiError("the API's answer is not a collection", code="UnexpectedBody")


def entity(data: Any) -> Any:
    """One entity's answer without its OData annotations (`@odata.context`, …): the result an
    action hands on is the entity itself."""
    if isinstance(data, dict) and any(key.startswith("@odata.") for key in data):
        return {k: v for k, v in data.items() if not k.startswith("@odata.")}
    return data
