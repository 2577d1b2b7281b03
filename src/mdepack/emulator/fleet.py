"""The emulator's data: a deterministic, realistic fleet from a seed, or one loaded from JSON.

Machines carry the fields real responses carry, the undocumented ones included (`isAadJoined`,
`agentVersion`, `managedBy`, `vmMetadata`...), integer `rbacGroupId`, nulls where the API gives
null. Files and users relate to machines; well-known hashes relate to known numbers of machines
so tests and the demo can name them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EPOCH = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
# A hash seen in Microsoft's documentation, so README examples find machines.
DOCS_SHA1 = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07"
# Files related to exactly this many machines (capped by the fleet's size).
FILE_SIZES = (0, 1, 2, 3, 10, 499, 500, 501, 1200, 5000)
PLATFORMS = [
    ("Windows10", 36, "desktop"),
    ("Windows11", 30, "laptop"),
    ("WindowsServer2019", 10, "srv"),
    ("WindowsServer2022", 9, "srv"),
    ("Linux", 9, "lnx"),
    ("macOS", 6, "mac"),
]
HEALTH = [
    ("Active", 82),
    ("Inactive", 10),
    ("ImpairedCommunication", 3),
    ("NoSensorData", 2),
    ("NoSensorDataImpairedCommunication", 1),
    ("Unknown", 2),
]
RISK = [("None", 18), ("Informational", 10), ("Low", 30), ("Medium", 24), ("High", 14), (None, 4)]
EXPOSURE = [("None", 10), ("Low", 40), ("Medium", 35), ("High", 12), (None, 3)]
DEVICE_VALUE = [("Normal", 85), ("Low", 5), ("High", 8), (None, 2)]
ONBOARDING = [("Onboarded", 93), ("CanBeOnboarded", 4), ("Unsupported", 2), ("InsufficientInfo", 1)]
GROUPS = [(0, "UnassignedGroup"), (140, "Finance"), (141, "Engineering"), (142, "Servers")]
TAGS = ["VIP", "Finance", "Engineering", "Kiosk", "Test", "o'brien-lab", "Legacy"]
AV_STATUS = ["Updated", "Updated", "Updated", "NotUpdated", "Unknown"]
MANAGED_BY = ["Intune", "Intune", "MicrosoftDefenderForEndpoint", "ConfigMgr", "Unknown"]


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _timestamp(moment: dt.datetime) -> str:
    # Real responses carry up to 7 fraction digits.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}" + "1Z"


def machine_id(seed: int, index: int) -> str:
    """The id of the machine at `index` in the fleet made from `seed`."""
    return hashlib.sha1(
        f"mdepack-emulator:{seed}:{index}".encode(), usedforsecurity=False
    ).hexdigest()


def file_sha1(seed: int, size: int) -> str:
    """The hash of the well-known file related to `size` machines in the fleet of `seed`."""
    return hashlib.sha1(f"mdepack-file:{seed}:{size}".encode(), usedforsecurity=False).hexdigest()


def make_machine(rng: random.Random, seed: int, index: int) -> dict[str, Any]:
    """One realistic machine."""
    platform, kind = _pick(rng, [((p, k), w) for p, w, k in PLATFORMS])
    group_id, group_name = rng.choice(GROUPS)
    first_seen = EPOCH - dt.timedelta(days=rng.randint(30, 900), seconds=rng.randint(0, 86399))
    last_seen = EPOCH - dt.timedelta(
        minutes=rng.randint(0, 60 * 24 * 40), microseconds=rng.randint(0, 999999)
    )
    octets = (10, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
    ip = ".".join(map(str, octets))
    mac = "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
    windows = platform.startswith("Windows")
    tags = sorted(set(rng.sample(TAGS, k=rng.choice([0, 0, 1, 1, 2]))))
    in_cloud = rng.random() < 0.15
    return {
        "id": machine_id(seed, index),
        "computerDnsName": f"{kind}-{index:06d}.contoso.com",
        "firstSeen": _timestamp(first_seen),
        "lastSeen": _timestamp(last_seen),
        "osPlatform": platform,
        "osVersion": None,
        "osProcessor": "x64",
        "version": rng.choice(["22H2", "23H2", "24H2", "1809", "21H2"]) if windows else None,
        "lastIpAddress": ip,
        "lastExternalIpAddress": f"167.220.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "agentVersion": f"10.8{rng.randint(600, 899)}.{rng.randint(19041, 26100)}.{rng.randint(1000, 5000)}",
        "osBuild": rng.choice([19045, 22631, 26100, 17763, 20348]) if windows else None,
        "healthStatus": _pick(rng, HEALTH),
        "deviceValue": _pick(rng, DEVICE_VALUE),
        "rbacGroupId": group_id,
        "rbacGroupName": group_name,
        "riskScore": _pick(rng, RISK),
        "exposureLevel": _pick(rng, EXPOSURE),
        "isAadJoined": windows and rng.random() < 0.7,
        "aadDeviceId": _guid(rng) if windows else None,
        "machineTags": tags,
        "defenderAvStatus": rng.choice(AV_STATUS),
        "onboardingStatus": _pick(rng, ONBOARDING),
        "osArchitecture": "64-bit",
        "managedBy": rng.choice(MANAGED_BY),
        "managedByStatus": "Success",
        "ipAddresses": _addresses(ip, mac),
        "vmMetadata": _vm(rng, index) if in_cloud else None,
        "mergedIntoMachineId": None,
        "isPotentialDuplication": False,
        "isExcluded": False,
        "exclusionReason": None,
    }


def _guid(rng: random.Random) -> str:
    parts = (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16))
    return "%08x-%04x-%04x-%04x-%012x" % (*parts, rng.getrandbits(48))  # noqa: UP031 - a GUID


def _addresses(ip: str, mac: str) -> list[dict[str, Any]]:
    return [
        {"ipAddress": ip, "macAddress": mac, "type": "Ethernet", "operationalStatus": "Up"},
        {
            "ipAddress": "127.0.0.1",
            "macAddress": None,
            "type": "SoftwareLoopback",
            "operationalStatus": "Up",
        },
    ]


def _vm(rng: random.Random, index: int) -> dict[str, Any]:
    vm_id = f"{rng.getrandbits(128):032x}"
    resource = f"/subscriptions/{rng.getrandbits(64):016x}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm{index}"
    return {
        "vmId": vm_id,
        "cloudProvider": "Azure",
        "resourceId": resource,
        "subscriptionId": f"{rng.getrandbits(64):016x}",
    }


@dataclass
class Fleet:
    """Machines, and which machines saw which file (by SHA-1) and which user logged on where."""

    machines: list[dict[str, Any]]
    files: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    seed: int = 0

    def file_with(self, size: int) -> str:
        """The well-known file related to `size` machines (capped by the fleet's size)."""
        return file_sha1(self.seed, size)

    def to_json(self) -> str:
        """The fleet as the JSON `--data` loads."""
        return json.dumps({"machines": self.machines, "files": self.files, "users": self.users})


def generate(count: int, seed: int = 1) -> Fleet:
    """A deterministic fleet of `count` machines."""
    rng = random.Random(seed)
    machines = [make_machine(rng, seed, i) for i in range(count)]
    ids = [m["id"] for m in machines]
    files = {file_sha1(seed, size): ids[: min(size, count)] for size in FILE_SIZES}
    files[DOCS_SHA1] = ids[:2]
    users: dict[str, list[str]] = {}
    for index, machine_id_ in enumerate(ids):
        for user in {f"user{rng.randint(1, max(2, count // 3)):05d}", f"user{index % 50:05d}"}:
            users.setdefault(user, []).append(machine_id_)
    users["user1"] = ids[:3]  # the user of Microsoft's examples (user1@contoso.com)
    return Fleet(machines, files, users, seed)


def load(path: Path) -> Fleet:
    """A fleet from JSON: a list of machines, or {machines, files, users}."""
    document = json.loads(path.read_text())
    if isinstance(document, list):
        return Fleet(document)
    return Fleet(document["machines"], document.get("files", {}), document.get("users", {}))
