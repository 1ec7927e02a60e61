"""``python -m lab.cli``: the same as ``dpo-lab``."""

import sys

from lab.cli import main

sys.exit(main())
