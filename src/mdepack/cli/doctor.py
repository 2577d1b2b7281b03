"""`mdepack doctor [--json]`: is this configuration able to reach the API, and with which roles?

What a SOAR platform calls "test connectivity": the configuration found (never a secret), whether
a token was obtained, the token's application roles (its JWT `roles` claim) against the role each
action needs, and one cheap read (`GET /api/machines?$top=1`) to prove the API answers. The same
for Microsoft Graph (`graph`): its own token, for its own audience, whose roles decide the Graph
actions, and `GET /v1.0/security/alerts_v2?$top=1`. Nothing is written. Exit 0 when the Defender
API answered, 1 otherwise, with the host, port and reason.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from typing import Any
from urllib.parse import urlsplit

from mdepack.cli.output import print_json, style_options
from mdepack.errors import MdepackError

# Roles that do instead of the one the manifest names: the wider read-write role, and for
# indicators the app-scoped one (it sees and changes only the app's own indicators).
ALSO_DOES = {
    "Machine.Read.All": {"Machine.ReadWrite.All"},
    "Ti.ReadWrite.All": {"Ti.ReadWrite"},
    "SecurityAlert.Read.All": {"SecurityAlert.ReadWrite.All"},
}
_ROLE = re.compile(r"\b[A-Z][A-Za-z]+\.[A-Za-z]+(?:\.All)?\b")


def register(commands: Any, wants_help: bool) -> None:
    """Add `doctor` to the top-level subparsers."""
    doctor = commands.add_parser(
        "doctor",
        help="check the configuration, the token's roles and that the API answers (no writes)",
        parents=[style_options()],
    )
    doctor.add_argument(
        "--json", action="store_true", help="the report as one JSON document (for pipelines)"
    )
    doctor.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    """Check, print the report, and exit 0 only when the Defender API answered."""
    report = examine()
    if args.json:
        print_json(report, args)
    else:
        sys.stdout.write(words(report))
    return 0 if report["api"]["answered"] else 1


def examine() -> dict[str, Any]:
    """The report: configuration, token, roles by action, the API's answer."""
    from mdepack.client import ApiClient
    from mdepack.config import Config

    report: dict[str, Any] = {"configuration": None, "token": None, "api": {"answered": False}}
    try:
        config = Config.from_env()
    except MdepackError as error:
        report["configuration"] = {"error": error.to_dict()["error"]}
        report["api"]["reason"] = "the configuration is incomplete; nothing was called"
        return report | {"actions": roles_by_action(None)}
    report["configuration"] = {
        "credential": _credential(config),
        "cloud": (os.environ.get("MDE_CLOUD") or "public").lower(),
        "api_url": config.api_url,
        "authority": config.authority,
        "tenant_id": config.tenant_id,
        "client_id": config.client_id,
        "ca_bundle": config.ca_bundle,
    }
    client = ApiClient(config.with_overrides(max_attempts=1))
    roles = None
    try:
        token = client.tokens.token()
    except MdepackError as error:
        report["token"] = {"obtained": False, "error": error.to_dict()["error"]}
    else:
        roles = jwt_roles(token)
        report["token"] = {"obtained": True, "roles": roles}
        if roles is None:
            report["token"]["note"] = "not a JWT: its roles cannot be read"
    if report["token"]["obtained"]:
        report["api"] = _read(client, config.api_url)
    else:
        report["api"]["reason"] = "no token, so the API was not called"
    report["graph"], graph_roles = _graph(client)
    report["actions"] = roles_by_action(roles, graph_roles)
    return report


def _graph(client: Any) -> tuple[dict[str, Any], list[str] | None]:
    """Microsoft Graph's part of the report: its token and roles, and one cheap read."""
    try:
        graph = client.for_api("graph")
    except MdepackError as error:
        return {"configured": False, "error": error.to_dict()["error"]}, None
    found: dict[str, Any] = {"configured": True, "api_url": graph.config.api_url}
    try:
        token = graph.tokens.token()
    except MdepackError as error:
        found["token"] = {"obtained": False, "error": error.to_dict()["error"]}
        found["api"] = {"answered": False, "reason": "no Graph token, so Graph was not called"}
        return found, None
    roles = jwt_roles(token)
    found["token"] = {"obtained": True, "roles": roles}
    # One alert, from list_alerts' endpoint as the manifest names it.
    from mdepack import manifest

    path = manifest.load().action("list_alerts").path
    where = _where(graph.config.api_url)
    try:
        graph.call("GET", path, params={"$top": 1})
    except MdepackError as error:
        error_body = error.to_dict()["error"]
        found["api"] = {"answered": False, **where, "reason": error_body["message"]}
    else:
        found["api"] = {"answered": True, **where, "call": f"GET {path}?$top=1"}
    return found, roles


def jwt_roles(token: str) -> list[str] | None:
    """The `roles` claim of a JWT (read, not verified: the API verifies it), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    roles = payload.get("roles") if isinstance(payload, dict) else None
    return sorted(str(r) for r in roles) if isinstance(roles, list) else []


def roles_by_action(
    roles: list[str] | None, graph_roles: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each action: whether the roles of its API's token let it run and, when not, which role
    is missing (None: unknown, no token for its API)."""
    from mdepack import manifest

    result: dict[str, dict[str, Any]] = {}
    for action in manifest.load().actions.values():
        known = graph_roles if action.api == "graph" else roles
        held = set(known or [])
        missing = _missing(action.permission, held)
        if action.tracking_permission:
            missing += _missing(action.tracking_permission, held)
        can_run = None if known is None else not missing
        result[action.name] = {"can_run": can_run, "missing_roles": missing}
    return result


def _missing(permission: str, held: set[str]) -> list[str]:
    named = _ROLE.findall(permission)
    if len(named) > 1:  # "the role of the action cancelled (A, B or C)": any one of them
        return [] if any(_holds(role, held) for role in named) else [" or ".join(named)]
    return [] if _holds(permission, held) else [permission]


def _holds(role: str, held: set[str]) -> bool:
    return role in held or bool(ALSO_DOES.get(role, set()) & held)


def _read(client: Any, api_url: str) -> dict[str, Any]:
    """One cheap read: a single machine."""
    where = _where(api_url)
    try:
        page: list[Any] = next(client.pages("/api/machines", max_results=1), [])
    except MdepackError as error:
        found = error.to_dict()["error"]
        return {"answered": False, **where, "reason": found["message"], "error": found}
    return {"answered": True, **where, "call": "GET /api/machines?$top=1", "machines": len(page)}


def _where(api_url: str) -> dict[str, Any]:
    """The host and port a read went to, for the report."""
    split = urlsplit(api_url)
    return {"host": split.hostname, "port": split.port or 443}


def _credential(config: Any) -> str:
    if config.access_token:
        return "token (MDE_ACCESS_TOKEN)"
    if config.managed_identity:
        return f"managed identity ({config.managed_identity})"
    if config.client_certificate:
        return "client certificate"
    return "client secret"


def words(report: dict[str, Any]) -> str:
    """The report for a person."""
    lines = []
    found = report["configuration"] or {}
    if "error" in found:
        lines.append(f"configuration: {found['error']['message']}")
    else:
        lines.append(
            f"configuration: {found['credential']}, {found['cloud']} cloud, "
            f"API {found['api_url']}, authority {found['authority']}"
        )
    token = report.get("token")
    if token is not None:
        if token["obtained"]:
            roles = token["roles"]
            shown = ", ".join(roles) if roles else ("unknown" if roles is None else "none")
            lines.append(f"token: obtained; application roles: {shown}")
        else:
            lines.append(f"token: NOT obtained: {token['error']['message']}")
    api = report["api"]
    if api["answered"]:
        lines.append(f"API: answered {api['call']} at {api['host']}:{api['port']}")
    else:
        place = f" at {api['host']}:{api['port']}" if "host" in api else ""
        lines.append(f"API: did NOT answer{place}: {api.get('reason')}")
    actions = report["actions"]
    runnable = [name for name, a in actions.items() if a["can_run"]]
    lines.append(f"actions: {len(runnable)} of {len(actions)} can run with these roles")
    for name, verdict in actions.items():
        if verdict["can_run"] is False:
            lines.append(f"  {name}: missing {', '.join(verdict['missing_roles'])}")
    graph = report.get("graph") or {}
    if not graph.get("configured"):
        reason = graph.get("error", {}).get("message", "no configuration")
        lines.append(f"graph: not configured ({reason})")
    elif not graph["token"]["obtained"]:
        lines.append(f"graph: token NOT obtained: {graph['token']['error']['message']}")
    else:
        roles = graph["token"]["roles"]
        shown = ", ".join(roles) if roles else ("unknown" if roles is None else "none")
        state = "answered" if graph["api"]["answered"] else "did NOT answer"
        lines.append(f"graph: {graph['api_url']} {state}; application roles: {shown}")
    return "\n".join(lines) + "\n"
