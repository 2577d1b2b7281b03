"""Bad input gets a clear error naming the field and the rule, before any call."""

from __future__ import annotations

from typing import Any

import pytest

from mdepack.errors import InputError
from mdepack.invoke import prepare

SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.mark.parametrize("value", [MD5, SHA256, "z" * 40, "", 5])
def test_sha1_refusal_names_the_field_and_sha1(value: Any) -> None:
    with pytest.raises(InputError) as caught:
        prepare("get_file_machines", {"sha1": value})
    assert caught.value.field == "sha1"
    assert "SHA-1" in caught.value.message or "string" in caught.value.message


def test_md5_message_says_only_sha1_is_accepted() -> None:
    with pytest.raises(
        InputError, match=r"sha1: must be a SHA-1 hash.*MD5 and SHA-256 are not accepted"
    ):
        prepare("get_file_machines", {"sha1": MD5})


@pytest.mark.parametrize(
    ("action", "inputs", "field", "words"),
    [
        ("get_file_machines", {}, "sha1", "is required"),
        ("get_file_machines", {"sha1": "a" * 40, "colour": "red"}, "colour", "not a known field"),
        ("list_machines", {"health_status": "Sleeping"}, "health_status", "must be one of: Active"),
        (
            "list_machines",
            {"risk_score": ["High", "Severe"]},
            "risk_score[1]",
            "must be one of: None, Informational",
        ),
        ("list_machines", {"max_results": 0}, "max_results", "must be at least 1"),
        ("list_machines", {"last_seen_after": "yesterday"}, "last_seen_after", "ISO-8601"),
        (
            "tag_machines",
            {"machine_ids": ["abc!"], "tag": "t", "action": "Add"},
            "machine_ids[0]",
            "40 hexadecimal characters) or a computer DNS name",
        ),
        (
            "tag_machines",
            {"machine_ids": ["a" * 40], "tag": "t", "action": "append"},  # `add` is taken as Add
            "action",
            "Add or Remove",
        ),
        (
            "tag_machines",
            {"machine_ids": [], "tag": "t", "action": "Add"},
            "machine_ids",
            "must not be empty",
        ),
        ("get_user_machines", {"user": "a/b"}, "user", "without '/'"),
        (
            "get_machine",
            {"machine_id": "x/../y"},
            "machine_id",
            "machine id (40 hexadecimal characters) or a computer DNS name",
        ),
    ],
)
def test_errors_name_the_field_and_the_rule(
    action: str, inputs: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        prepare(action, inputs)
    assert caught.value.field == field
    assert words in caught.value.message or words in str(caught.value.rule)
    assert caught.value.exit_code == 2


def test_input_must_be_an_object() -> None:
    with pytest.raises(InputError, match="must be a JSON object"):
        prepare("list_machines", ["not", "an", "object"])


def test_defaults_are_filled_from_the_schema() -> None:
    prepared = prepare("tag_machines", {"machine_ids": ["a" * 40], "tag": "t", "action": "Add"})
    assert prepared["max_machines"] == 500 and prepared["dry_run"] is False
