"""Kernel histograms of TensorBoard event files read as weight statistics (pure, numpy and tensorboard's protos)."""

import numpy as np
import pytest
from tensorboard.compat.proto.summary_pb2 import HistogramProto

from reglab.tensorboard_layers import from_proto, from_tensor, kernel_layer, layer_snapshots, weight_stats


@pytest.mark.parametrize(("tag", "layer"), [
    ("sequential/dense/kernel/histogram", "dense"), ("dense_1/kernel_0", "dense_1"), ("conv2d/kernel", "conv2d"),
    ("sequential/dense/bias/histogram", None), ("epoch_loss", None),
])  # fmt: skip
def test_kernel_tags_name_their_layer(tag, layer):
    assert kernel_layer(tag) == layer


def test_stats_are_those_of_values_at_bucket_centres():
    edges, counts = np.array([-1.0, -0.5, 0.0, 0.25, 1.0]), np.array([1, 3, 4, 2])
    values = np.repeat([-0.75, -0.25, 0.125, 0.625], counts)  # each value at its bucket's centre
    stats = weight_stats(edges, counts.astype(float))
    assert stats["mean"] == pytest.approx(values.mean()) and stats["std"] == pytest.approx(values.std())
    assert stats["l2"] == pytest.approx(np.linalg.norm(values)) and stats["abs_max"] == 1.0
    assert stats["zero_fraction"] is None and stats["hist"] == {"edges": list(edges), "counts": [1, 3, 4, 2]}
    # 0 % and 100 % are the outer edges; 50 % (5 of 10) falls one quarter into the bucket [0, 0.25).
    assert stats["quantiles"][0] == -1.0 and stats["quantiles"][-1] == 1.0
    assert stats["quantiles"][4] == pytest.approx(0.0625)


def test_tf2_tensor_and_tf1_proto_give_the_same_histogram():
    tensor = np.array([[-1.0, 0.0, 3.0], [0.0, 1.0, 0.0], [1.0, 2.0, 5.0]])
    proto = HistogramProto(min=-1.0, max=2.0, num=8, bucket_limit=[-1.0, 0.0, 1.0, 1.7e308], bucket=[0, 3, 0, 5])
    for edges, counts in (from_tensor(tensor), from_proto(proto)):
        assert list(edges) == [-1.0, 0.0, 1.0, 2.0] and list(counts) == [3, 0, 5]
    single = from_tensor(np.array([[0.5, 0.5, 4.0]]))  # all values equal
    assert list(single[0]) == [0.0, 1.0] and list(single[1]) == [4]


def test_snapshots_by_epoch_and_layers_in_order_of_appearance():
    hist = (np.array([0.0, 1.0]), np.array([6.0]))
    layers, snapshots = layer_snapshots(
        [("m/dense/kernel/histogram", 0, *hist), ("m/dense_1/kernel/histogram", 0, *hist),
         ("m/dense/bias/histogram", 0, *hist), ("m/dense/kernel/histogram", 1, *hist)],
        {"dense": {"type": "Dense", "units": 3, "activation": "relu"}},
    )  # fmt: skip
    assert [(l["index"], l["name"], l["type"]) for l in layers] == [(0, "dense", "Dense"), (1, "dense_1", "unknown")]
    assert [(s["epoch"], sorted(s["layers"])) for s in snapshots] == [(0, ["dense", "dense_1"]), (1, ["dense"])]
