"""The run spec moved to :mod:`reglab.spec`, where a worker or a client imports it without the server.

This name stays an alias of that very module (not a copy), so older imports keep working.
"""

import sys

from reglab import spec as _spec

sys.modules[__name__] = _spec
