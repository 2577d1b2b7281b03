"""`mdepack bundle lambda`: one zip with the pack and its dependencies for the Lambda runtime;
the handler is `mdepack.triggers.aws_lambda.handler`. Entries are sorted, dated 2026-01-01 and
of one mode, so two builds of the same commit are the same bytes."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from mdepack.bundle import packages

HANDLER = "mdepack.triggers.aws_lambda.handler"


def build(output: Path, python: str = "3.12", arch: str = "x86_64") -> int:
    """Write the zip to `output`; its size in bytes."""
    with tempfile.TemporaryDirectory(prefix="mdepack-lambda-") as folder:
        root = Path(folder)
        packages.install(root, packages.lock("lambda", python, arch), python, arch)
        packages.copy_pack(root)
        packages.prune(root)
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
            for name, path in sorted(files.items()):
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16  # the same bytes for the same inputs
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return packages.size(output)
