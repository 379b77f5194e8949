"""``python -m mae_ort`` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
