"""A local Defender for Endpoint emulator: a real HTTPS server on 127.0.0.1 with an Entra-style
token endpoint (MSAL works against it unchanged), the machine API, OData filters, rate limits and
fault injection. Used by the demo, the tests, the benchmarks, and by users developing playbooks.
"""

from mdepack.emulator.faults import Fault
from mdepack.emulator.server import Emulator

__all__ = ["Emulator", "Fault"]
