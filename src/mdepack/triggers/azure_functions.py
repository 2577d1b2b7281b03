"""Azure Functions (Python v2 programming model): a user's `function_app.py` is one line,

    from mdepack.triggers.azure_functions import app  # noqa: F401

which serves `POST /api/actions/{name}` and `POST /api/playbooks/{name}` (function-key auth).
Needs the `azure` extra: `pip install "mdepack[azure]"`. With `MDE_MANAGED_IDENTITY=system` the
function's managed identity gets the token, so no secret sits in its settings.
"""

from __future__ import annotations

import azure.functions as func

from mdepack.triggers.http import respond

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def run_action(req: func.HttpRequest) -> func.HttpResponse:
    """POST /api/actions/{name}: the action's output, or a JSON error."""
    return _answer("actions", req)


def run_playbook(req: func.HttpRequest) -> func.HttpResponse:
    """POST /api/playbooks/{name}: a shipped playbook's outputs, or a JSON error."""
    return _answer("playbooks", req)


def _answer(kind: str, req: func.HttpRequest) -> func.HttpResponse:
    status, headers, body = respond(kind, req.route_params.get("name", ""), req.get_body())
    return func.HttpResponse(body, status_code=status, headers=headers, mimetype="application/json")


# Registered by call rather than decorator so the plain functions stay callable in tests.
app.function_name("mdepack_action")(app.route(route="actions/{name}", methods=["POST"])(run_action))
app.function_name("mdepack_playbook")(
    app.route(route="playbooks/{name}", methods=["POST"])(run_playbook)
)
