"""The `$filter` of a collection route: parsed for the resource's fields, or the 400 its API
answers (Defender: ODataError; Graph: BadRequest)."""

from __future__ import annotations

from typing import Any

from mdepack.emulator import odata
from mdepack.emulator.api import ApiFailure


def filtered(
    items: list[dict[str, Any]],
    query: dict[str, str],
    fields: frozenset[str] = odata.FIELDS,
    entity: str = "PublicMachine",
    code: str = "ODataError",
) -> list[dict[str, Any]]:
    """The items the query's `$filter` keeps (all of them without one)."""
    text = query.get("$filter")
    if not text:
        return items
    try:
        predicate = odata.compile_filter(text, fields, entity)
    except odata.ODataError as error:
        raise ApiFailure(400, code, f"Invalid filter clause: {error}") from None
    return [item for item in items if predicate(item)]
