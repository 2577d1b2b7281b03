"""get_machine: by id or computer DNS name; not found is an error."""

from __future__ import annotations

import pytest

from mdepack.client import ApiClient
from mdepack.emulator import Emulator
from mdepack.errors import NotFoundError
from mdepack.invoke import invoke


def test_by_id(emulator: Emulator, client: ApiClient) -> None:
    machine = emulator.fleet.machines[4]
    assert invoke("get_machine", {"machine_id": machine["id"]}, client=client) == {
        "machine": machine
    }


def test_by_dns_name(emulator: Emulator, client: ApiClient) -> None:
    machine = emulator.fleet.machines[7]
    result = invoke("get_machine", {"machine_id": machine["computerDnsName"]}, client=client)
    assert result["machine"]["id"] == machine["id"]


def test_an_unknown_machine_is_not_found_with_the_apis_code(client: ApiClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        invoke("get_machine", {"machine_id": "0" * 40}, client=client)
    assert (caught.value.status, caught.value.code) == (404, "ResourceNotFound")
    assert caught.value.exit_code == 1
