"""The API as one action sees it: the action's own endpoint, as the manifest declares it, over
the shared client. An action never writes a URL, a retry or an error mapping itself.

Every call shape (one answer, a collection, pages, a post) goes through the endpoint's own budget
when the manifest gives it a `rate`, besides the tenant's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mdepack.client import ApiClient, collection_items, entity
from mdepack.manifest import Action


class ActionApi:
    """Calls one action's endpoint; `segments` fill the `{placeholders}` of its path."""

    def __init__(self, client: ApiClient, action: Action) -> None:
        self.client = client
        self.action = action
        # An endpoint with a budget of its own (getPackageUri: 2 a minute) paces on both.
        self.pacer = (
            client.endpoint_pacer(action.name, *action.rate) if action.rate is not None else None
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

    def post(self, body: Any, **segments: str) -> Any:
        """POST the endpoint. The client retries what may pass (a repeated machine action is
        refused by the API as "already in progress", which the caller reports)."""
        return entity(
            self.client.call(
                "POST", self.action.path, segments=segments, body=body, pacer=self.pacer
            )
        )
