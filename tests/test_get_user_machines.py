"""get_user_machines: the path takes the bare user name."""

from __future__ import annotations

import pytest

from mdepack.client import ApiClient
from mdepack.emulator import Emulator
from mdepack.errors import InputError
from mdepack.invoke import invoke


@pytest.mark.parametrize("user", ["user1", "user1@contoso.com", "CONTOSO\\user1"])
def test_upn_and_down_level_names_are_reduced_to_the_user_name(
    emulator: Emulator, client: ApiClient, user: str
) -> None:
    result = invoke("get_user_machines", {"user": user}, client=client)
    assert [c.path for c in emulator.calls()] == ["/api/users/user1/machines"]
    assert result["count"] == 3


@pytest.mark.parametrize(
    "user", ["", "a/b", "..", "a..b", "a?b", "a#b", "a%2fb", "user 1", "x@y@z"]
)
def test_unsafe_user_values_are_refused_before_any_request(
    emulator: Emulator, client: ApiClient, user: str
) -> None:
    with pytest.raises(InputError) as caught:
        invoke("get_user_machines", {"user": user}, client=client)
    assert caught.value.field == "user"
    assert emulator.calls() == []


def test_an_unknown_user_is_empty(client: ApiClient) -> None:
    assert invoke("get_user_machines", {"user": "nobody@contoso.com"}, client=client) == {
        "machines": [],
        "count": 0,
    }
