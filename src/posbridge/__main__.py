"""``python -m posbridge`` is the ``posbridge`` command."""

import sys

from .cli import main

sys.exit(main())
