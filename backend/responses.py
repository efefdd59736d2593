"""JSON responses rendered by orjson, for the large payloads (series, pages of runs)."""

from typing import Any

import numpy as np
import orjson
from starlette.responses import JSONResponse

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    # What orjson leaves to us: arrays that are not C-contiguous, numpy scalars.
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    """``content`` as JSON: integer keys become strings, NaN and infinity null, numpy arrays lists."""
    return orjson.dumps(content, default=_default, option=OPTIONS)


class OrjsonResponse(JSONResponse):
    """JSON via orjson (:func:`dumps`), numpy arrays written straight from their buffers."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
