"""``python -m snnlab.cli``: the snnlab command."""
import sys

from . import main

sys.exit(main())
