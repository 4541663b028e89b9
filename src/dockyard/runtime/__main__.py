"""``python -m dockyard.runtime``: the same as the ``dockyard-runtime`` script."""

import sys

from .cli import main

sys.exit(main())
