"""Run a command and print its wall time and peak RSS as JSON.

Linux counts the memory a process had before exec in its peak RSS, so a command forked straight
from the (large) benchmark process would report the benchmark's size. This launcher is a fresh,
small image; the command it forks is measured on its own.
"""

import json
import os
import subprocess
import sys
import time

argv = sys.argv[1:]
stdin = None
if argv[:1] == ["--stdin"]:  # feed this file to the command's standard input
    stdin = open(argv[1], "rb")  # noqa: SIM115 - closed when this process ends
    argv = argv[2:]
started = time.perf_counter()
process = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(
    json.dumps(
        {"seconds": time.perf_counter() - started, "maxrss_kib": usage.ru_maxrss, "status": status}
    )
)
