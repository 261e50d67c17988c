"""``python -m sm_magics.pricing [refresh]``."""

import sys

from sm_magics.pricing.cli import main

sys.exit(main())
