"""``python -m masque`` (and ``torchrun -m masque train ...``): the ``masque`` command."""

import sys

from masque.cli import main

sys.exit(main())
