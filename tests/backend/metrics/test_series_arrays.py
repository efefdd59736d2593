"""read_series' numpy columns, for JSON answers, render exactly as its lists do, on SQLite and PostgreSQL."""

import math

import numpy as np

from backend.db import make_engine
from backend.metrics.service import read_series, write_points
from backend.responses import dumps
from tests.backend.metrics.helpers import new_run


def test_numpy_columns_render_as_the_lists(engine, database_url):
    run_id = new_run(engine)
    odd = [None, math.nan, math.inf, -math.inf, 0.1, 1e-7, -0.0, 1e22]
    epochs = [{"name": "loss", "x": e, "value": odd[e % 8], "t": None if e % 3 == 0 else e * 1.5} for e in range(40)]
    steps = [{"name": name, "axis": "step", "x": x, "value": odd[x % 8] if x % 97 < 8 else math.cos(x / 50) + 0.1,
              "t": None if x % 89 == 0 else x / 10} for name in ("loss", "acc") for x in range(0, 3000, 2)]  # fmt: skip
    with engine.begin() as conn:
        write_points(conn, run_id, epochs + steps)
    app_engine = make_engine(database_url)  # the app's: on PostgreSQL its rows come in the binary format
    windows = [{"max_points": 50}, {"max_points": 1000}, {"x_min": 1000, "x_max": 1100, "max_points": 20},
               {"x_min": 990, "x_max": 2000, "max_points": 100_000}, {"x_min": 2999, "max_points": 10}, {}]  # fmt: skip
    try:
        with app_engine.connect() as conn:
            for window in windows:
                lists = read_series(conn, [run_id], **window)
                arrays = read_series(conn, [run_id], **window, arrays=True)
                assert set(arrays[run_id]) == {"loss", "loss@step", "acc"} or window.get("x_min") == 2999
                assert all(isinstance(s[c], np.ndarray) for s in arrays[run_id].values() for c in ("x", "y", "t"))
                assert all(isinstance(s[c], list) for s in lists[run_id].values() for c in ("x", "y", "t"))
                assert dumps(arrays) == dumps(lists), window
        # float32 step values go out as the float64 the lists hold (0.1f as 0.10000000149011612).
        assert b"0.10000000149011612" in dumps(arrays[run_id]["acc"]["y"])
    finally:
        app_engine.dispose()
