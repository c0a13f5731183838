"""`python -m rnntui`: the same as the rnntui command."""

import sys

from .cli import main

sys.exit(main())
