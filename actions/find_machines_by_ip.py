"""GET /api/machines/findbyip(ip='…',timestamp=…): machines seen with an internal IP address
within 15 minutes of a time (the API looks back at most 30 days). The address is checked and
written in its canonical form; the time defaults to now, UTC."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from mdepack.api import ActionApi
from mdepack.errors import InputError
from mdepack.machines import collection


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Machines that had the address then."""
    try:
        ip = str(ipaddress.ip_address(inputs["ip"].strip()))
    except ValueError:
        raise InputError(
            f"ip: {inputs['ip']!r} is not an IPv4 or IPv6 address",
            field="ip",
            rule="an IPv4 or IPv6 address",
        ) from None
    timestamp = inputs.get("timestamp") or _now(api)
    return collection(api.collection(ip=ip, timestamp=timestamp), inputs.get("fields"))


def _now(api: ActionApi) -> str:
    moment = dt.datetime.fromtimestamp(api.client.clock.time(), dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
