"""`python -m mdepack` is the same as the `mdepack` command."""

from mdepack.cli import main

raise SystemExit(main())
