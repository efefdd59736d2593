"""JSON responses rendered by orjson, for the large payloads (series, pages of runs)."""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """JSON via orjson: integer keys become strings, NaN and infinity become null."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
