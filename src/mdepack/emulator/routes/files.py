"""Routes of the file resource: file information (by SHA-1 or SHA-256) and the machines that saw
a file (SHA-1 only)."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from mdepack.emulator.api import READ, WRITE, ApiFailure, Reply, Route, json_reply, route
from mdepack.emulator.routes.machines import machine_collection

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

FILE_READ = "File.Read.All"
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def file_machines(emulator: Emulator, sha1: str, **_: Any) -> Reply:
    """GET /api/files/{sha1}/machines: empty for an unseen file (404 in legacy mode)."""
    if not _SHA1.match(sha1):
        raise ApiFailure(
            400, "InvalidHashValue", f"Hash value {sha1} is invalid. Only SHA1 is supported."
        )
    ids = emulator.fleet.files.get(sha1.lower())
    if ids is None and emulator.legacy_not_found:
        raise ApiFailure(404, "NotFound", f"File {sha1} was not found.")
    return machine_collection(emulator, emulator.machines(ids or []))


def file_info(emulator: Emulator, digest: str, **_: Any) -> Reply:
    """GET /api/files/{sha1 or sha256}: the File entity of a file the fleet has seen."""
    digest = digest.lower()
    if _SHA1.match(digest):
        sha1 = digest if digest in emulator.fleet.files else None
    elif _SHA256.match(digest):
        sha1 = {sha256_of(s): s for s in emulator.fleet.files}.get(digest)
    else:
        raise ApiFailure(
            400, "InvalidHashValue", f"Hash value {digest} is invalid. Use SHA1 or SHA256."
        )
    if sha1 is None:
        raise ApiFailure(404, "ResourceNotFound", f"File {digest} was not found.")
    return json_reply(file_entity(sha1))


def sha256_of(sha1: str) -> str:
    """The SHA-256 the emulator gives the file whose SHA-1 is `sha1` (deterministic)."""
    return hashlib.sha256(f"mdepack-file-256:{sha1}".encode()).hexdigest()


def file_entity(sha1: str) -> dict[str, Any]:
    """A File as the API returns it, with the nulls real answers carry."""
    return {
        "sha1": sha1,
        "sha256": sha256_of(sha1),
        "md5": hashlib.md5(sha1.encode(), usedforsecurity=False).hexdigest(),
        "globalPrevalence": int(sha1[:4], 16) % 5000,
        "globalFirstObserved": "2026-03-04T10:11:12.1234567Z",
        "globalLastObserved": "2026-10-30T08:09:10.7654321Z",
        "size": int(sha1[4:9], 16),
        "fileType": None,
        "isPeFile": True,
        "filePublisher": None,
        "fileProductName": None,
        "signer": None,
        "issuer": None,
        "signerHash": None,
        "isValidCertificate": None,
        "determinationType": "Unknown",
        "determinationValue": "",
    }


ROUTES: list[Route] = [
    route("GET", "/api/files/*/machines", {READ, WRITE}, file_machines),
    route("GET", "/api/files/*", FILE_READ, file_info),
]
