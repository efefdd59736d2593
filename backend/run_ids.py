"""The ``run_ids=1,2,3`` query parameter, parsed in one place for every route that takes it.

Only ASCII digits count: ``str.isdigit`` also accepts ``²`` (which ``int``
then rejects with a 500) and ``int`` reads a fullwidth ``２`` as 2, so both
are refused here with the same 422 as any other malformed list. The
parameter's OpenAPI ``pattern`` is built from the same bounds, so a client
generated from the schema sends exactly what this accepts.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Query

from backend.errors import InvalidInput, field_error

MAX_ID = 2**31 - 1
MAX_RUN_IDS = 100


def bounded_int_pattern(maximum: int) -> str:
    """A regex (no anchors) of the decimal integers 1 to ``maximum``, no leading zeros."""
    digits = str(maximum)
    # Every shorter length is free; at full length, match ``maximum`` prefix by prefix.
    options = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for position, digit in enumerate(digits):
        rest = len(digits) - position - 1
        low = "1" if position == 0 else "0"
        top = int(digit) - (0 if rest == 0 else 1)
        if top < int(low):
            continue
        choice = low if top == int(low) else f"[{low}-{top}]"
        options.append(digits[:position] + choice + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join(options) + ")"


RUN_ID_PATTERN = bounded_int_pattern(MAX_ID)
RUN_IDS_PATTERN = f"^{RUN_ID_PATTERN}(?:,{RUN_ID_PATTERN}){{0,{MAX_RUN_IDS - 1}}}$"
# Python's re: [0-9] is ASCII only, whatever the flags.
_RUN_IDS = re.compile(RUN_IDS_PATTERN)
MAX_LENGTH = MAX_RUN_IDS * (len(str(MAX_ID)) + 1)


def parse_run_ids(text: str, field: str = "run_ids") -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]`` (duplicates dropped, order kept); InvalidInput (422) on anything else."""
    if not text:
        raise InvalidInput([field_error(field, "must name at least 1 run id, got none", "missing")])
    parts = text.split(",")
    if len(parts) > MAX_RUN_IDS:
        raise InvalidInput([field_error(field, f"must name at most {MAX_RUN_IDS} runs, got {len(parts)}", "too_long")])
    if _RUN_IDS.fullmatch(text) is None:
        bad = next((p for p in parts if re.fullmatch(RUN_ID_PATTERN, p) is None), text)
        raise InvalidInput(
            [
                field_error(
                    field,
                    f"must be comma-separated run ids (ASCII digits, 1 to {MAX_ID}) like 1,2,3, got {bad[:40]!r}",
                    "string_pattern_mismatch",
                )
            ]
        )
    return list(dict.fromkeys(int(part) for part in parts))


RunIdsText = Annotated[
    str,
    Query(
        description=f"Comma-separated run ids (1 to {MAX_ID}, at most {MAX_RUN_IDS}), e.g. 1,2,3",
        # Documented, not enforced by FastAPI: parse_run_ids gives the 422 a readable message.
        json_schema_extra={"pattern": RUN_IDS_PATTERN, "maxLength": MAX_LENGTH, "minLength": 1},
        examples=["1,2,3"],
    ),
]


async def run_ids_query(run_ids: RunIdsText) -> list[int]:
    # Async: parsing a short string is not worth a hop to a thread on the async routes.
    return parse_run_ids(run_ids)


# A route parameter: ``ids: RunIds`` reads ``?run_ids=`` and 422s on anything malformed.
RunIds = Annotated[list[int], Depends(run_ids_query)]
