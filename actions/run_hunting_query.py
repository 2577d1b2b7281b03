"""POST /v1.0/security/runHuntingQuery (Microsoft Graph): run an advanced hunting query.

`parameters` are bound as `let NAME = <literal>;` statements ahead of the query by `mdepack.kql`,
never spliced into its text. The answer (up to 100,000 rows) is read as it arrives: `stream`
yields its rows in pages, so `mdepack run --jsonl` writes one row a line in flat memory. The API
allows 45 calls a minute (the manifest's `rate`) and 200 s a query (its `timeout`); a 429 for the
tenant's CPU quota is raised at once as HuntingQuotaError, with when queries may run again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mdepack import json_stream, kql
from mdepack.api import ActionApi
from mdepack.errors import ApiError

ITEMS = "results"  # the output's streamed collection
PAGE = 1000  # rows handed on at a time


def body(inputs: dict[str, Any]) -> dict[str, Any]:
    """The request body: the query with its parameters bound, and the timespan if given."""
    sent: dict[str, Any] = {"Query": kql.bound(inputs["query"], inputs.get("parameters") or {})}
    if "timespan" in inputs:
        sent["Timespan"] = inputs["timespan"]
    return sent


def stream(
    inputs: dict[str, Any], api: ActionApi, columns: list[Any] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The result rows in pages of up to PAGE, as they arrive; `columns` gets the schema."""
    page: list[dict[str, Any]] = []
    try:
        for name, value in json_stream.members(api.streamed(body(inputs)), ITEMS):
            if name == ITEMS:
                page.append(value)
                if len(page) >= PAGE:
                    yield page
                    page = []
            elif name == "schema" and columns is not None and isinstance(value, list):
                columns.extend(value)
    except json_stream.StreamError as error:
        raise ApiError(
            f"the hunting answer is not one Graph gives: {error}", code="BadBody"
        ) from None
    if page:
        yield page


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Run the query; its columns, rows and row count."""
    columns: list[Any] = []
    rows = [row for page in stream(inputs, api, columns) for row in page]
    return {"schema": columns, "results": rows, "count": len(rows)}
