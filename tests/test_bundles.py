"""Deployable artefacts, used as a platform would use them: the Lambda zip and the Azure Functions
folder are built, then imported and invoked by a clean interpreter (no site-packages: nothing but
the standard library beside the bundle) against the emulator; the SAM template passes cfn-lint
(run for real); the client secret can come from Secrets Manager through the Lambda extension."""

from __future__ import annotations

import http.server
import json
import platform
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import user_env

from mdepack.bundle import aws_lambda, azure_functions
from mdepack.emulator import Emulator
from mdepack.errors import ConfigError
from mdepack.triggers import aws_lambda as lambda_trigger

pytestmark = pytest.mark.slow
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
HOST_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}[platform.machine()]
DEPLOY = Path(__file__).parent.parent / "deploy"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def clean_python(path: Path, code: str, env: dict[str, str]) -> Any:
    """Run code with only `path` and the standard library importable; its JSON output."""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(path)!r})\n{code}",
        ],
        env=user_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator(machines=20) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One Lambda zip for this machine's Python and processor, built once for the module."""
    zipped = tmp_path_factory.mktemp("lambda") / "mdepack-lambda.zip"
    return zipped, aws_lambda.build(zipped, HOST_PYTHON, HOST_ARCH)


def test_the_lambda_zip_imports_and_answers_with_only_the_standard_library(
    tmp_path: Path, live: Emulator, lambda_zip: tuple[Path, int]
) -> None:
    zipped, size = lambda_zip
    assert size == zipped.stat().st_size and size < 50 * 1024 * 1024  # Lambda's direct-upload cap
    unpacked = tmp_path / "code"
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    assert (
        "mdepack/_pack/manifest.yaml" in names
        and "mdepack/_pack/actions/isolate_machines.py" in names
    )
    assert not any("__pycache__" in n for n in names)
    assert "redis/__init__.py" in names and "pyrate_limiter/__init__.py" in names
    code = (
        "import json\n"
        "from mdepack.triggers.aws_lambda import handler\n"
        f"out = handler({{'action': 'get_file_machines', 'input': {{'sha1': '{live.fleet.file_with(2)}'}}}}, None)\n"
        "import requests, msal, jsonschema_rs, mdepack\n"
        "print(json.dumps({'count': out['count'], 'from': [m.__file__ for m in (requests, msal, jsonschema_rs, mdepack)]}))\n"
    )
    result = clean_python(unpacked, code, live.env())  # MSAL and a client secret, for real
    assert result["count"] == 2
    assert all(path.startswith(str(unpacked)) for path in result["from"])


def test_two_lambda_builds_of_one_commit_are_byte_identical_and_minimal(
    tmp_path: Path, lambda_zip: tuple[Path, int]
) -> None:
    import hashlib

    first, second = lambda_zip[0], tmp_path / "again.zip"
    aws_lambda.build(second, HOST_PYTHON, HOST_ARCH)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1]
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(2026, 1, 1, 0, 0, 0)}
    ours = [n for n in names if n.startswith("mdepack/")]
    assert "mdepack/triggers/aws_lambda.py" in ours and "mdepack/_pack/schemas/common.json" in ours
    for left_out in ("mdepack/emulator/", "mdepack/exports/", "mdepack/bundle/", "mdepack/demo.py"):
        assert not any(n.startswith(left_out) for n in ours), left_out
    assert all(n.endswith((".py", ".json", ".yaml", ".typed")) for n in ours)


def test_only_what_a_function_runs_leaves_the_wheel() -> None:
    from mdepack.bundle.packages import runs

    kept = ["mdepack/invoke.py", "mdepack/_pack/manifest.yaml", "mdepack/_pack/schemas/a.json"]
    dropped = [
        "mdepack/_pack/playbooks/.env.local",
        "mdepack/_pack/schemas/key.pem",
        "mdepack/.secret.py",
        "mdepack/emulator/server.py",
        "mdepack/exports/openapi.py",
        "mdepack/bundle/locks/lambda-py3.12-x86_64.txt",
        "mdepack-0.1.0.dist-info/RECORD",
        "mdepack/_pack/actions/notes.txt",
    ]
    assert [n for n in kept + dropped if runs(n)] == kept


def test_every_lock_pins_each_dependency_with_hashes() -> None:
    import re
    from importlib.metadata import requires

    from mdepack.bundle.packages import LOCKS

    declared = [r for r in requires("mdepack") or [] if "extra ==" not in r]
    direct = [re.split(r"[<>=!~; \[]", r)[0].lower() for r in declared]
    assert "requests" in direct and "msal" in direct
    locks = sorted(LOCKS.glob("*.txt"))
    assert len(locks) == 8  # Lambda: 3.11-3.13 on x86_64 and arm64; Functions: 3.11, 3.12
    for lock in locks:
        text = lock.read_text()
        pinned = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\$", text, re.M))
        wanted = [*direct, "redis", "pyrate-limiter"]  # the shared rate budget travels too
        wanted += ["azure-functions"] if lock.name.startswith("azure") else []
        assert set(wanted) <= set(pinned), lock.name
        blocks = re.split(r"^(?=[a-z0-9_.-]+==)", text, flags=re.M)[1:]
        assert all("--hash=sha256:" in block for block in blocks), lock.name


def test_a_python_without_a_lock_is_refused_naming_those_there_are(tmp_path: Path) -> None:
    from mdepack.errors import InputError

    with pytest.raises(InputError, match=r"no lock for Python '3.9'.*3\.11, 3\.12, 3\.13"):
        aws_lambda.build(tmp_path / "x.zip", "3.9", "x86_64")


def test_the_azure_folder_imports_and_answers(tmp_path: Path, live: Emulator) -> None:
    folder = tmp_path / "func"
    azure_functions.build(folder, HOST_PYTHON)
    assert (folder / "function_app.py").is_file() and (folder / "requirements.txt").is_file()
    assert json.loads((folder / "host.json").read_text()) == json.loads(
        (DEPLOY / "azure" / "host.json").read_text()
    )
    site = folder / ".python_packages" / "lib" / "site-packages"
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "import azure.functions as func\n"
        "import function_app\n"
        "request = func.HttpRequest(method='POST', url='http://localhost/api/actions/get_file', "
        f"route_params={{'name': 'get_file'}}, body=json.dumps({{'hash': '{live.fleet.file_with(1)}'}}).encode())\n"
        "answer = function_app.app.get_functions()\n"
        "from mdepack.triggers.azure_functions import run_action\n"
        "response = run_action(request)\n"
        "print(json.dumps({'status': response.status_code, 'body': json.loads(response.get_body()), "
        "'functions': len(answer)}))\n"
    )
    result = clean_python(site, code, live.env())
    assert result["status"] == 200 and result["body"]["found"] is True
    assert result["functions"] == 2
    with pytest.raises(Exception, match="not empty"):
        azure_functions.build(folder, HOST_PYTHON)


def test_the_sam_template_passes_cfn_lint(tmp_path: Path) -> None:
    template = DEPLOY / "aws" / "template.yaml"
    linted = subprocess.run(
        [str(CFN_LINT), str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    text = template.read_text()
    assert f"Handler: {aws_lambda.HANDLER}" in text and "AuthType: AWS_IAM" in text
    assert "MDE_CLIENT_SECRET:" not in text  # the secret is read at run time, never set as text
    assert "MDE_RATE_STORE: !If [SharedBudget, !Ref RateStoreUrl" in text  # one budget, optional
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("MemorySize: 1024", "MemorySize: 999999"))
    failed = subprocess.run(
        [str(CFN_LINT), str(broken)], capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0 and "E3034" in failed.stdout  # the linter really looks


@pytest.fixture
def secrets_extension() -> Iterator[tuple[int, list[str]]]:
    """A stand-in for the AWS Parameters and Secrets Lambda Extension on 127.0.0.1."""
    seen: list[str] = []
    secret: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Aws-Parameters-Secrets-Token", ""))
            if self.headers.get("X-Aws-Parameters-Secrets-Token") != "session-token":
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"SecretString": json.dumps({"client_secret": secret["value"]})})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Handler.secret = secret  # type: ignore[attr-defined]
    yield server.server_address[1], seen, secret  # type: ignore[misc]
    server.shutdown()
    server.server_close()


def test_the_client_secret_can_come_from_secrets_manager(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, secrets_extension: Any
) -> None:
    port, seen, secret = secrets_extension
    secret["value"] = emulator.write_app.secret
    env = {k: v for k, v in emulator.env().items() if k != "MDE_CLIENT_SECRET"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MDE_CLIENT_SECRET", raising=False)
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mdepack-AbCdEf"
    monkeypatch.setenv("MDE_CLIENT_SECRET_ARN", arn)
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(port))
    monkeypatch.setenv("AWS_SESSION_TOKEN", "wrong")
    with pytest.raises(ConfigError, match="HTTP 401"):
        lambda_trigger.handler({"action": "get_file", "input": {"hash": "a" * 40}})
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    output = lambda_trigger.handler(
        {"action": "get_file_machines", "input": {"sha1": emulator.fleet.file_with(2)}}
    )
    assert output["count"] == 2 and seen[-1] == "session-token"


def test_the_secret_fetch_never_goes_through_a_proxy(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, secrets_extension: Any
) -> None:
    port, seen, secret = secrets_extension
    secret["value"] = emulator.write_app.secret
    proxied: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            proxied.append(self.headers.get("X-Aws-Parameters-Secrets-Token", ""))
            self.send_response(502)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("MDE_CLIENT_SECRET", raising=False)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.server_address[1]}")
        arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mdepack-Proxy1"
        monkeypatch.setenv("MDE_CLIENT_SECRET_ARN", arn)
        monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(port))
        monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
        output = lambda_trigger.handler(
            {"action": "get_file_machines", "input": {"sha1": emulator.fleet.file_with(2)}}
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert output["count"] == 2 and seen[-1] == "session-token"
    assert proxied == []
