"""`mdepack emulator`: the local Defender API, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any, wants_help: bool) -> None:
    """Add `emulator` to the top-level subparsers."""
    emulator = commands.add_parser("emulator", help="run the local Defender API emulator")
    emulator.add_argument(
        "--port",
        type=int,
        default=8443,
        help="the port on 127.0.0.1 (default 8443; 0 takes a free one)",
    )
    emulator.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".emulator"),
        help="where ca.pem and the env file (MDE_* settings for the pack) are written",
    )
    emulator.add_argument(
        "--machines", type=int, default=500, help="size of the generated fleet (default 500)"
    )
    emulator.add_argument(
        "--seed", type=int, default=1, help="seed of the generated fleet: same seed, same fleet"
    )
    emulator.add_argument("--data", type=Path, help="a fleet as JSON instead of a generated one")
    emulator.add_argument(
        "--legacy-not-found", action="store_true", help="404 for unknown files and users"
    )
    emulator.add_argument(
        "--rate-per-minute", type=int, default=100, help="calls an app may make a minute (100)"
    )
    emulator.add_argument(
        "--rate-per-hour", type=int, default=1500, help="calls an app may make an hour (1500)"
    )
    emulator.add_argument(
        "--hunting-rate-per-minute",
        type=int,
        default=45,
        help="advanced hunting calls a tenant may make a minute (45)",
    )
    emulator.set_defaults(command=serve)


def serve(args: argparse.Namespace) -> int:
    """Start the emulator, say where it is, and serve until interrupted."""
    import errno
    import time

    from mdepack.emulator import Emulator
    from mdepack.errors import InputError

    emulator = Emulator(
        machines=args.machines,
        seed=args.seed,
        data=args.data,
        port=args.port,
        state_dir=args.state_dir.resolve(),
        legacy_not_found=args.legacy_not_found,
        rate_per_minute=args.rate_per_minute,
        rate_per_hour=args.rate_per_hour,
        hunting_rate_per_minute=args.hunting_rate_per_minute,
    )
    try:
        emulator.start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise InputError(
            f"--port: {args.port} is taken on 127.0.0.1 (another emulator?); stop it, choose "
            "another port, or use --port 0 for a free one",
            field="port",
            rule="a free port",
        ) from None
    try:
        env = emulator.state_dir / "env"
        sys.stdout.write(
            f"mdepack emulator on {emulator.url} with {len(emulator.fleet.machines)} machines\n"
            f"  settings: {env}  (set -a; . {env}; set +a)\n"
            f"  a file seen by 2 machines: {emulator.fleet.file_with(2)}\n"
            "  Ctrl-C stops it.\n"
        )
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    finally:
        emulator.stop()
    return 0
