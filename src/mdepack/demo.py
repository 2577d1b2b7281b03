"""`mdepack demo`: the file hash -> related machines -> tag chain, end to end on the emulator.

It starts the emulator in this process (TLS on 127.0.0.1, its own CA), gets a token with MSAL
client credentials, runs the shipped tag_machines_by_file_hash playbook, and prints what happened.
"""

from __future__ import annotations

import time
from typing import TextIO

from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.emulator import Emulator
from mdepack.invoke import invoke
from mdepack.playbook.runner import run_file

TAG = "incident-4711"


def run_demo(out: TextIO, machines: int = 500) -> int:
    """Run the demo, writing a short report to `out`; return the exit status."""
    started = time.perf_counter()
    with Emulator(machines=machines) as emulator:
        config = Config.from_env(emulator.env())
        client = ApiClient(config)
        sha1 = emulator.fleet.file_with(3)
        out.write(
            f"Defender for Endpoint emulator on {emulator.url} ({machines} machines, TLS, MSAL client credentials)\n\n"
        )
        out.write(f"File SHA-1   {sha1}\n")
        before = invoke(
            "get_file_machines",
            {"sha1": sha1, "fields": ["computerDnsName", "machineTags"]},
            client=client,
        )
        out.write(f"Machines     {before['count']} have seen it\n")
        for machine in before["machines"]:
            out.write(f"  {machine['computerDnsName']:<32} tags before: {_tags(machine)}\n")
        emulator.clear_log()
        out.write(f"\nPlaybook tag_machines_by_file_hash (tag {TAG!r}):\n")
        result = run_file(
            "tag_machines_by_file_hash", {"sha1": sha1, "tag": TAG}, client=client, report=out
        )
        playbook_calls = emulator.calls("/api/")
        after = invoke(
            "get_file_machines",
            {"sha1": sha1, "fields": ["computerDnsName", "machineTags"]},
            client=client,
        )
        out.write("\nAfter\n")
        for machine in after["machines"]:
            out.write(f"  {machine['computerDnsName']:<32} tags after:  {_tags(machine)}\n")
        out.write("\nAPI calls made by the playbook\n")
        for request in playbook_calls:
            out.write(f"  {request.method:<5} {request.path:<60} {request.status}\n")
        elapsed = time.perf_counter() - started
        tagged = len(result.outputs.get("tagged") or [])
        out.write(
            f"\n{tagged} machines tagged with {result.calls} API calls; {elapsed:.2f} s in all.\n"
        )
        return (
            0
            if tagged == before["count"]
            and all(TAG in (m.get("machineTags") or []) for m in after["machines"])
            else 1
        )


def _tags(machine: dict[str, object]) -> str:
    tags = machine.get("machineTags") or []
    return ", ".join(map(str, tags)) if isinstance(tags, list) and tags else "(none)"
