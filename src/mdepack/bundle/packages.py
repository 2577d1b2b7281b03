"""Put the pack and its dependencies into a folder for another platform, the same bytes for the
same commit:

- dependencies: `pip install --require-hashes --no-deps` from the lock of that platform
  (`locks/{kind}-py{X.Y}-{arch}.txt`, made by `make locks`), as compiled wheels for the target
  (`--platform`, `--python-version`, `--only-binary`), never built here;
- the pack: the files of its own wheel (built from the checkout, or the installed one's record),
  so the layout and content are the package's, minus what a function never runs (the emulator,
  the exports, the bundler, the demo) and anything that is not code or pack content.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path, PurePosixPath

from mdepack.errors import InputError
from mdepack.manifest import pack_root

ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}
# manylinux levels the serverless images satisfy (Amazon Linux 2023, Debian 12): glibc 2.34 and up.
MANYLINUX = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
LOCKS = Path(__file__).parent / "locks"
# Parts of the package a function never imports.
NOT_RUN = ("mdepack/emulator/", "mdepack/exports/", "mdepack/bundle/", "mdepack/demo.py")
# What a pack file may be: code, and the manifest, schemas and playbooks it reads.
KEPT_SUFFIXES = (".py", ".json", ".yaml", ".typed")


def lock(kind: str, python: str, arch: str) -> Path:
    """The lock file for a platform, or InputError naming the ones there are."""
    if arch not in ARCHES:
        raise InputError(
            f"--arch: {arch!r} is not one of {', '.join(ARCHES)}",
            field="arch",
            rule="x86_64 or arm64",
        )
    path = LOCKS / f"{kind}-py{python}-{ARCHES[arch]}.txt"
    if not path.is_file():
        known = sorted(p.stem.split("-py")[1].split("-")[0] for p in LOCKS.glob(f"{kind}-py*"))
        raise InputError(
            f"--python: no lock for Python {python!r} on {arch} "
            f"(there are: {', '.join(dict.fromkeys(known))})",
            field="python",
            rule="a Python version the bundle has a lock for",
        )
    return path


def install(target: Path, locked: Path, python: str, arch: str) -> None:
    """Install the locked requirements into `target` as wheels for CPython `python` on `arch`."""
    platforms = [f"--platform={level}_{ARCHES[arch]}" for level in MANYLINUX]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--no-compile",
        "--require-hashes",
        "--no-deps",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--only-binary=:all:",
        *platforms,
        "-r",
        str(locked),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError(
            f"bundle: pip could not install the locked dependencies for Python {python} on {arch}: "
            + (done.stderr.strip().splitlines() or ["(no message)"])[-1],
            field="bundle",
            rule="dependencies installable as wheels",
        )
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them


def copy_pack(target: Path) -> None:
    """The files of the pack's wheel that a function runs, into `target`."""
    for name, data in sorted(pack_files().items()):
        if runs(name):
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def runs(name: str) -> bool:
    """True for a wheel entry a function needs: the package's code and the pack's content, not
    the parts it never runs, the wheel's metadata, or a file of any other kind."""
    path = PurePosixPath(name)
    if path.parts[0] != "mdepack" or any(part.startswith(".") for part in path.parts):
        return False
    if any(name.startswith(part) for part in NOT_RUN):
        return False
    return path.suffix in KEPT_SUFFIXES


def pack_files() -> dict[str, bytes]:
    """{wheel entry: bytes} of the pack: its wheel built from the checkout, or, installed from a
    wheel, the files its record lists."""
    root = pack_root()
    if (root / "pyproject.toml").is_file():
        return _built_wheel(root)
    try:
        files = distribution("mdepack").files or []
    except PackageNotFoundError:  # pragma: no cover - a pack is either checked out or installed
        raise InputError(
            "bundle: the pack is neither a checkout nor an installed wheel",
            field="bundle",
            rule="a checkout or an installed mdepack",
        ) from None
    return {
        str(f): Path(str(f.locate())).read_bytes() for f in files if Path(str(f.locate())).is_file()
    }


def _built_wheel(root: Path) -> dict[str, bytes]:
    # Without the build backend here, pip fetches it into an isolated environment.
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    with tempfile.TemporaryDirectory(prefix="mdepack-wheel-") as folder:
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation]
        done = subprocess.run(
            [*command, "--disable-pip-version-check", "-w", folder, str(root)],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(folder).glob("mdepack-*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            raise InputError(
                "bundle: the pack's wheel could not be built: "
                + (done.stderr.strip().splitlines() or ["(no message)"])[-1],
                field="bundle",
                rule="a wheel built from the checkout",
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            return {name: wheel.read(name) for name in wheel.namelist() if not name.endswith("/")}


def prune(target: Path) -> None:
    """Drop byte-code caches: the platform compiles what it imports."""
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


def size(path: Path) -> int:
    """Bytes under a folder, or of a file."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
