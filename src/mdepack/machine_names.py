"""Machines named by their computer DNS name wherever an id is taken.

SOC engineers and agents have host names; the API's writes take ids. Names are resolved before
any write, with one listing call for as many names as fit in a filter
(`computerDnsName eq 'a' or computerDnsName eq 'b' ...`). A name that no machine has, or that
several machines have (a re-imaged machine keeps its old record), is refused naming the
candidates, before anything is changed. Ids pass through as they are; the write guard then
counts machines, not spellings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mdepack import bulk, odata
from mdepack.api import ActionApi
from mdepack.errors import InputError

ID = re.compile(r"^[0-9a-fA-F]{40}$")
LISTING = "list_machines"
FILTER_CHARS = 3000  # the longest $filter sent when resolving names: URLs stay well under 8 KB


@dataclass
class Machines:
    """The distinct machine ids asked for, and what each name resolved to."""

    ids: list[str]
    resolved: list[dict[str, str]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """`{"resolved": [{name, machine_id}, ...]}` when names were given, else nothing."""
        return {"resolved": self.resolved} if self.resolved else {}


def for_write(
    refs: Sequence[str], api: ActionApi, max_machines: int, field_name: str = "machine_ids"
) -> Machines:
    """The machines `refs` (ids or DNS names) name, guarded by `max_machines` and the operator's
    ceiling. Ids alone over the limit are refused before any call; names are then resolved (reads
    only) and the guard applies to the machines they are."""
    given = [r.lower() for r in refs if ID.match(r)]
    bulk.distinct_ids(given, max_machines, api.ceiling, field_name)
    found = resolve(refs, api, field_name)
    found.ids = bulk.distinct_ids(found.ids, max_machines, api.ceiling, field_name)
    return found


def resolve(refs: Sequence[str], api: ActionApi, field_name: str) -> Machines:
    """The ids of `refs` in order (duplicates kept), each name looked up once; InputError
    naming every name that is no machine's or several machines'."""
    names = list(dict.fromkeys(r.lower() for r in refs if not ID.match(r)))
    matches = _look_up(names, api.sibling(LISTING)) if names else {}
    found = (_problem(name, matches.get(name, []), refs, field_name) for name in names)
    problems = [p for p in found if p is not None]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        first = problems[0]
        raise InputError(
            f"{first[0]}: {first[1]}{more}; nothing was changed",
            field=first[0],
            rule="a computer DNS name that names exactly one machine",
        )
    chosen = {name: str(matches[name][0]["id"]).lower() for name in names}
    ids = [r.lower() if ID.match(r) else chosen[r.lower()] for r in refs]
    resolved = [{"name": name, "machine_id": chosen[name]} for name in names]
    return Machines(ids, resolved)


def _look_up(names: list[str], listing: ActionApi) -> dict[str, list[dict[str, Any]]]:
    """Machines by lower-case DNS name, for every name, in as few listing calls as fit."""
    found: dict[str, list[dict[str, Any]]] = {}
    for batch in _batches(names):
        params = {"$filter": odata.eq("computerDnsName", batch)}
        for page in listing.pages(params):
            for machine in page:
                name = str(machine.get("computerDnsName") or "").lower()
                found.setdefault(name, []).append(machine)
    return found


def _batches(names: list[str]) -> list[list[str]]:
    batches: list[list[str]] = [[]]
    length = 0
    for name in names:
        clause = len(name) + 30  # "computerDnsName eq '...' or "
        if batches[-1] and length + clause > FILTER_CHARS:
            batches.append([])
            length = 0
        batches[-1].append(name)
        length += clause
    return batches


def _problem(
    name: str, machines: list[dict[str, Any]], refs: Sequence[str], field_name: str
) -> tuple[str, str] | None:
    where = f"{field_name}[{next(i for i, r in enumerate(refs) if r.lower() == name)}]"
    if not machines:
        return where, f"{name!r} is no machine's computer DNS name (give its machine id)"
    if len(machines) > 1:
        candidates = ", ".join(
            f"{m.get('id')} (last seen {m.get('lastSeen')}, {m.get('healthStatus')})"
            for m in machines
        )
        return where, (
            f"{name!r} names {len(machines)} machines: {candidates}; give the machine id"
        )
    return None
