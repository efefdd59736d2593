"""Moved to :mod:`reglab.schedule_math`; this name stays an alias of that very module."""

import sys

from reglab import schedule_math as _schedule_math

sys.modules[__name__] = _schedule_math
