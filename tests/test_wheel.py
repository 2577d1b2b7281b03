"""The wheel carries the pack inside the package and loads actions the same way as a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import run_python

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parent.parent


def test_an_installed_wheel_finds_its_pack_and_runs_the_demo(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("mdepack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert (
        "mdepack/_pack/manifest.yaml" in names and "mdepack/_pack/actions/tag_machines.py" in names
    )
    assert not any(name.startswith("actions/") for name in names)  # never a top-level package
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "from mdepack import manifest; print(manifest.pack_root()); print(manifest.load().function('get_machine').__module__)"
    shown = run_python(code, env).split()
    assert shown == [str(site / "mdepack" / "_pack"), "mdepack._actions.get_machine"]
    demo = subprocess.run(
        [sys.executable, "-m", "mdepack", "demo", "--machines", "50"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert "3 machines tagged with 2 API calls" in demo.stdout


def test_a_stray_file_beside_the_pack_never_ships(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "checkout"
    for name in ("src", "actions", "schemas", "playbooks"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "manifest.yaml"):
        shutil.copy(ROOT / name, tree / name)
    strays = [
        "playbooks/.env.local",
        "schemas/signing.key",
        "actions/notes.txt",
        "src/mdepack/x.pem",
    ]
    for stray in strays:
        (tree / stray).write_text("MDE_CLIENT_SECRET=do-not-ship\n")
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "-w", str(tmp_path), str(tree)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("mdepack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mdepack/_pack/playbooks/block_file_hash.yaml" in names
    assert not [
        n
        for n in names
        if n.rsplit("/", 1)[-1] in {"x.pem", ".env.local", "signing.key", "notes.txt"}
    ]
