"""`python -m cnn_core …`: the command line (see cnn_core.runs.cli)."""

import sys

from cnn_core.runs.cli import main

sys.exit(main())
