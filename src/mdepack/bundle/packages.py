"""Put the pack and its dependencies into a folder for another platform: pip with `--platform`,
`--python-version` and `--only-binary` (compiled wheels for the target, never built here), then
the pack itself — runtime and content — copied in as the wheel lays it out (`mdepack/_pack/`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import mdepack
from mdepack.errors import InputError
from mdepack.manifest import pack_root

ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}
# manylinux levels the serverless images satisfy (Amazon Linux 2023, Debian 12): glibc 2.34 and up.
MANYLINUX = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
PACK_CONTENT = ("manifest.yaml", "actions", "schemas", "playbooks")
# The pack's own requirements, should the metadata not be there (a plain checkout on sys.path).
CORE = (
    "requests>=2.31",
    "msal>=1.28",
    "jsonschema>=4.18",
    "pyyaml>=6.0",
    "jsonschema-rs>=0.29",
    "jmespath>=1.0",
    "cryptography>=41",
)


def core_requirements() -> list[str]:
    """The pack's runtime requirements (no extras), from its installed metadata."""
    try:
        declared = requires("mdepack") or []
    except PackageNotFoundError:
        return list(CORE)
    return [r for r in declared if ";" not in r] or list(CORE)


def install(target: Path, requirements: list[str], python: str, arch: str) -> None:
    """Install `requirements` into `target` as wheels for CPython `python` on Linux `arch`."""
    if arch not in ARCHES:
        raise InputError(
            f"--arch: {arch!r} is not one of {', '.join(ARCHES)}",
            field="arch",
            rule="x86_64 or arm64",
        )
    if not python.replace(".", "").isdigit() or python.count(".") != 1:
        raise InputError(
            f"--python: {python!r} is not a version such as 3.12", field="python", rule="X.Y"
        )
    platforms = [f"--platform={level}_{ARCHES[arch]}" for level in MANYLINUX]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--only-binary=:all:",
        *platforms,
        *requirements,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError(
            f"bundle: pip could not install the dependencies for Python {python} on {arch}: "
            + (done.stderr.strip().splitlines() or ["(no message)"])[-1],
            field="bundle",
            rule="dependencies installable as wheels",
        )
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them


def copy_pack(target: Path) -> None:
    """The pack's runtime and content into `target/mdepack`, as the wheel lays them out."""
    package = Path(mdepack.__file__).resolve().parent
    destination = target / "mdepack"
    shutil.copytree(
        package, destination, ignore=shutil.ignore_patterns("__pycache__", "_pack", "*.pyc")
    )
    root = pack_root()
    for name in PACK_CONTENT:
        source = root / name
        if source.is_dir():
            shutil.copytree(
                source, destination / "_pack" / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (destination / "_pack").mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / "_pack" / name)


def prune(target: Path) -> None:
    """Drop byte-code caches: the platform compiles what it imports."""
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def size(path: Path) -> int:
    """Bytes under a folder, or of a file."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
