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

started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(
    json.dumps(
        {"seconds": time.perf_counter() - started, "maxrss_kib": usage.ru_maxrss, "status": status}
    )
)
