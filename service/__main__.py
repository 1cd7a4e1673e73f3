"""``python -m service``: the same as the ``memsync`` command."""

import sys

from service.cli.main import main

sys.exit(main())
