"""`python -m studio.sweeps`."""

import sys

from studio.sweeps import main

sys.exit(main())
