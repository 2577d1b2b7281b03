"""get_file_machines: SHA-1 only, empty when no machine has seen the file."""

from __future__ import annotations

import pytest
from conftest import make_client
from test_validation import MD5, SHA256

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.errors import InputError
from mdepack.invoke import invoke


def test_machines_that_saw_the_file(emulator: Emulator, client: ApiClient) -> None:
    sha1 = emulator.fleet.file_with(3)
    result = invoke("get_file_machines", {"sha1": sha1}, client=client)
    assert result["count"] == 3
    assert [m["id"] for m in result["machines"]] == emulator.fleet.files[sha1]
    assert [c.path for c in emulator.calls()] == [f"/api/files/{sha1}/machines"]


def test_upper_case_sha1_is_accepted(emulator: Emulator, client: ApiClient) -> None:
    sha1 = emulator.fleet.file_with(2)
    assert invoke("get_file_machines", {"sha1": sha1.upper()}, client=client)["count"] == 2


@pytest.mark.parametrize("value", [MD5, SHA256])
def test_md5_and_sha256_are_refused_without_a_request(
    emulator: Emulator, client: ApiClient, value: str
) -> None:
    with pytest.raises(InputError, match="SHA-1"):
        invoke("get_file_machines", {"sha1": value}, client=client)
    assert emulator.calls() == []


def test_a_file_no_machine_has_seen_is_empty(emulator: Emulator, client: ApiClient) -> None:
    assert invoke("get_file_machines", {"sha1": "f" * 40}, client=client) == {
        "machines": [],
        "count": 0,
    }


def test_older_api_revisions_answering_404_are_empty_too(clock: ManualClock) -> None:
    with Emulator(machines=5, clock=clock, legacy_not_found=True) as emulator:
        result = invoke(
            "get_file_machines", {"sha1": "f" * 40}, client=make_client(emulator, clock)
        )
        assert result == {"machines": [], "count": 0}
        assert [c.status for c in emulator.calls()] == [404]


def test_fields_keep_the_payload_small(emulator: Emulator, client: ApiClient) -> None:
    result = invoke(
        "get_file_machines",
        {"sha1": emulator.fleet.file_with(10), "fields": ["computerDnsName"]},
        client=client,
    )
    assert all(set(m) == {"id", "computerDnsName"} for m in result["machines"])
