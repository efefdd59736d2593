"""What a live message carries: every epoch point, the outline of each step series."""

from backend.trainer.live import LIVE_STEP_POINTS, live_points


def _step_series(name, values):
    return [{"name": name, "axis": "step", "x": x, "value": v, "t": x * 0.01} for x, v in enumerate(values)]


def test_short_epochs_go_out_whole():
    points = _step_series("batch_loss", [1.0, 0.9, 0.8]) + [{"name": "loss", "axis": "epoch", "x": 0, "value": 0.9}]
    assert sorted(map(str, live_points(points))) == sorted(map(str, points))


def test_long_step_series_are_thinned_but_keep_spikes_and_epoch_points():
    losses = [1.0] * 2000
    losses[1234] = 50.0
    rates = [0.01] * 2000
    epoch = [{"name": n, "axis": "epoch", "x": 3, "value": 0.5} for n in ("loss", "val_loss")]
    points = _step_series("batch_loss", losses) + _step_series("batch_learning_rate", rates) + epoch
    live = live_points(points)
    by_name = {}
    for p in live:
        by_name.setdefault(p["name"], []).append(p)
    assert len(by_name["batch_loss"]) <= LIVE_STEP_POINTS
    assert len(by_name["batch_learning_rate"]) <= LIVE_STEP_POINTS
    assert any(p["x"] == 1234 and p["value"] == 50.0 for p in by_name["batch_loss"])
    assert by_name["batch_loss"][0]["x"] == 0 and by_name["batch_loss"][-1]["x"] == 1999
    assert len(by_name["loss"]) == len(by_name["val_loss"]) == 1
