"""The API as one action sees it: the action's own endpoint, as the manifest declares it, over
the shared client. An action never writes a URL, a retry or an error mapping itself.

Every call shape (one answer, a collection, pages, a post) goes through the endpoint's own budget
when the manifest gives it a `rate`, besides the tenant's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from mdepack.client import ApiClient, collection_items, entity
from mdepack.manifest import Action


class ActionApi:
    """Calls one action's endpoint; `segments` fill the `{placeholders}` of its path."""

    def __init__(self, client: ApiClient, action: Action) -> None:
        # The action's own API family: the Defender API, or Graph with its own token and budget.
        self.client = client.for_api(action.api)
        self.action = action
        # An endpoint with a budget of its own (getPackageUri: 2 a minute) paces on both.
        self.pacer = (
            self.client.endpoint_pacer(action.name, *action.rate)
            if action.rate is not None
            else None
        )

    @property
    def ceiling(self) -> int | None:
        """The operator's limit on machines one write may touch (MDE_MAX_MACHINES_CEILING)."""
        return self.client.config.max_machines_ceiling

    @property
    def calls(self) -> int:
        """HTTP calls sent so far through the underlying client (retries included)."""
        return self.client.calls

    def sibling(self, name: str) -> ActionApi:
        """Another manifest action's endpoint on the same client (tracking a response action
        calls `list_machine_actions`' endpoint, with its rate, never a path of its own)."""
        from mdepack.manifest import load

        return ActionApi(self.client, load().action(name))

    def endpoint(self, name: str) -> ActionApi:
        """One of the action's further endpoints (the manifest's `endpoints`), with its budget."""
        for key, method, path in self.action.endpoints:
            if key == name:
                moved = ActionApi(self.client, replace(self.action, method=method, path=path))
                moved.pacer = self.pacer
                return moved
        raise KeyError(f"{self.action.name} declares no endpoint {name!r}")

    def get(self, *, missing_ok: bool = False, **segments: str) -> Any:
        """GET the endpoint; a 404 raises NotFoundError (or, with `missing_ok`, gives None)."""
        return entity(
            self.client.call(
                "GET", self.action.path, segments=segments, missing_ok=missing_ok, pacer=self.pacer
            )
        )

    def collection(
        self, params: dict[str, Any] | None = None, **segments: str
    ) -> list[dict[str, Any]]:
        """GET a collection; a 404 (older API revisions, for an unknown file or user) is empty."""
        data = self.client.call(
            "GET",
            self.action.path,
            segments=segments,
            params=params,
            missing_ok=True,
            pacer=self.pacer,
        )
        return collection_items(data)

    def pages(
        self, params: dict[str, Any] | None = None, max_results: int | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Page through the endpoint's collection with `$top`/`$skip`."""
        return self.client.pages(
            self.action.path, params=params, max_results=max_results, pacer=self.pacer
        )

    def linked_pages(
        self,
        params: dict[str, Any] | None = None,
        max_results: int | None = None,
        *,
        page_size: int,
    ) -> Iterator[list[dict[str, Any]]]:
        """Page through the endpoint's collection by `@odata.nextLink` (Graph's paging)."""
        return self.client.linked_pages(
            self.action.path,
            params=params,
            max_results=max_results,
            page_size=page_size,
            pacer=self.pacer,
        )

    def streamed(self, body: Any) -> Iterator[bytes]:
        """Send the endpoint its body; its answer's bytes as they arrive (see ApiClient.streamed)."""
        return self.client.streamed(
            self.action.method,
            self.action.path,
            body=body,
            pacer=self.pacer,
            timeout=self.action.timeout,
        )

    def patch(self, body: Any, **segments: str) -> Any:
        """PATCH the endpoint with the fields to change."""
        return entity(
            self.client.call(
                "PATCH", self.action.path, segments=segments, body=body, pacer=self.pacer
            )
        )

    def upload(self, form: dict[str, str | tuple[str, bytes]], **segments: str) -> Any:
        """POST the endpoint a multipart/form-data body (field -> text, or (file name, bytes))."""
        return entity(
            self.client.call(
                "POST", self.action.path, segments=segments, form=form, pacer=self.pacer
            )
        )

    def post(self, body: Any, **segments: str) -> Any:
        """POST the endpoint. The client retries what may pass (a repeated machine action is
        refused by the API as "already in progress", which the caller reports)."""
        return entity(
            self.client.call(
                "POST", self.action.path, segments=segments, body=body, pacer=self.pacer
            )
        )
