"""``python -m snnlab`` (and ``torchrun ... -m snnlab``): the snnlab command."""
import sys

from .cli import main

sys.exit(main())
