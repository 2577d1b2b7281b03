"""Routes of the user resource: machines a user has logged on to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdepack.emulator.api import READ, WRITE, ApiFailure, Reply, Route, route
from mdepack.emulator.routes.machines import machine_collection

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator


def user_machines(emulator: Emulator, user: str, **_: Any) -> Reply:
    """GET /api/users/{name}/machines: empty for an unknown user (404 in legacy mode)."""
    ids = emulator.fleet.users.get(user.lower())
    if ids is None and emulator.legacy_not_found:
        raise ApiFailure(404, "NotFound", f"User {user} was not found.")
    return machine_collection(emulator, emulator.machines(ids or []))


ROUTES: list[Route] = [route("GET", "/api/users/*/machines", {READ, WRITE}, user_machines)]
