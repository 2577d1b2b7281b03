"""GET /api/users/{id}/machines: machines a user has logged on to.

The path takes the bare user name, not the UPN: user1@contoso.com and CONTOSO\\user1 both call
/api/users/user1/machines. An unknown user is an empty result (older revisions answer 404).
"""

from __future__ import annotations

from typing import Any

from mdepack import paths
from mdepack.api import ActionApi
from mdepack.machines import collection


def user_name(user: str) -> str:
    """The bare user name of a user name, a UPN or a DOMAIN\\user name (look-alikes of `@` and
    `\\` included: the name is NFKC-normalised first)."""
    return paths.normal(user).rpartition("\\")[2].partition("@")[0]


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Machines related to the user."""
    machines = api.collection(user=user_name(inputs["user"]))
    return collection(machines, inputs.get("fields"))
