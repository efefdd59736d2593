"""The run spec: the public contract between the API, the dashboard and the worker.

A spec describes one training run completely. The API validates it (and serves
its JSON Schema, from which the dashboard builds its form); the worker builds
the Keras model from it. This module imports pydantic only, never TensorFlow.

Every field has a default, a bound and a description. Fields may be added in
later versions, never renamed: ``spec_version`` says which contract a stored
spec follows.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

SPEC_VERSION = 1

DATASETS = ("fashion_mnist", "mnist", "cifar10", "imdb", "digits")
# Training examples each loader yields before the validation head is cut off,
# and its own test set. digits has no official split: the worker keeps the
# last 360 of scikit-learn's 1797 images as the test set.
DATASET_TRAIN_SIZES = {"fashion_mnist": 60000, "mnist": 60000, "cifar10": 50000, "imdb": 25000, "digits": 1437}
DATASET_TEST_SIZES = {"fashion_mnist": 10000, "mnist": 10000, "cifar10": 10000, "imdb": 25000, "digits": 360}
DATASET_CLASSES = {"fashion_mnist": 10, "mnist": 10, "cifar10": 10, "imdb": 2, "digits": 10}
# Shape of one example as the loader gives it (imdb's is (num_words,) after multi-hot).
IMAGE_SHAPES = {"fashion_mnist": (28, 28), "mnist": (28, 28), "cifar10": (32, 32, 3), "digits": (8, 8)}
UPLOAD_PREFIX = "upload:"
UPLOAD_PATTERN = r"^upload:[1-9][0-9]{0,9}$"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What validation needs to know of a dataset: sizes, classes and the shape of one example."""

    name: str
    train: int
    test: int
    classes: int
    shape: tuple[int, ...]
    sha256: str | None = None

    @property
    def image(self) -> bool:
        """(height, width) or (height, width, 1 or 3): a conv net can take it."""
        return len(self.shape) == 2 or (len(self.shape) == 3 and self.shape[2] in (1, 3))


# The API installs a lookup of uploaded datasets (by "upload:<id>" or by unique name);
# a process without one (the worker) trusts the reference the API already checked.
_upload_catalog: Callable[[str], DatasetInfo | None] | None = None


def use_dataset_catalog(lookup: Callable[[str], DatasetInfo | None] | None) -> None:
    """Install (or, with None, remove) the lookup of uploaded datasets used by validation."""
    global _upload_catalog
    _upload_catalog = lookup


def builtin_dataset(name: str) -> DatasetInfo:
    shape = IMAGE_SHAPES.get(name, (10000,))
    return DatasetInfo(name, DATASET_TRAIN_SIZES[name], DATASET_TEST_SIZES[name], DATASET_CLASSES[name], shape)


def dataset_info(name: str) -> DatasetInfo | None:
    """The built-in or uploaded dataset ``name`` names; None when it cannot be known here."""
    if name in DATASET_TRAIN_SIZES:
        return builtin_dataset(name)
    return _upload_catalog(name) if _upload_catalog is not None else None


def _dataset_name(value: Any) -> Any:
    if not isinstance(value, str) or value in DATASET_TRAIN_SIZES:
        return value
    if _upload_catalog is not None:
        info = _upload_catalog(value)
        if info is None:
            raise ValueError(f"no uploaded dataset is named {value[:80]!r}; see GET /api/datasets")
        return info.name
    if re.fullmatch(UPLOAD_PATTERN, value):
        return value
    raise ValueError(f"must be one of {', '.join(DATASETS)} or upload:<id>, got {value[:80]!r}")


DatasetName = Annotated[
    str,
    BeforeValidator(_dataset_name),
    WithJsonSchema({"anyOf": [{"enum": list(DATASETS), "type": "string"}, {"type": "string", "pattern": UPLOAD_PATTERN}]}),
]

ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish", "linear")
INITIALIZERS = (
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "variance_scaling_fan_avg",
)
OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")

Monitor = Literal["val_loss", "val_accuracy", "loss", "accuracy"]


def _integral(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer; strict mode alone would refuse it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _no_bool(value: Any) -> Any:
    # True == 1 in Python, not in JSON.
    if isinstance(value, bool):
        raise ValueError(f"must be the number 1, got {str(value).lower()}")
    return value


# Spec integers: JSON numbers without a fraction, never strings or booleans.
Int = Annotated[int, BeforeValidator(_integral)]


def BoundedInt(**bounds: Any) -> Any:  # noqa: N802 - a type, named like one
    """``Int`` with bounds, for list items and aliases: the bounds go before the validator,
    so the JSON Schema states them as minimum/maximum (after it, pydantic writes ``ge``)."""
    return Annotated[int, Field(**bounds), BeforeValidator(_integral)]


class SpecModel(BaseModel):
    """Base for every spec section: unknown fields are errors, not silently dropped.

    Strict, so values must have the JSON type the published schema states:
    lax pydantic would read ``"5"`` or ``false`` as a number and ``1`` as a
    boolean, which the schema (and so any generated client) refuses.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True)


Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
Factor = Annotated[float, Field(ge=0.0, le=10.0)]


class DatasetSpec(SpecModel):
    name: DatasetName = Field(
        "fashion_mnist",
        description="Keras dataset to train on (digits is scikit-learn's 8x8 set, always offline), "
        "or upload:<id> (or the unique name) of an uploaded dataset",
    )
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="Set by the server: the content hash of an uploaded dataset's arrays, null for built-ins",
    )
    validation_samples: Int = Field(
        5000, ge=1, le=999_999, description="Examples taken from the head of the training set for validation"
    )
    train_samples: BoundedInt(ge=1, le=1_000_000) | None = Field(None,
        description="Cap on the training examples used after the validation head; null uses all of them",
    )
    preprocessing: Literal["scale", "standardize", "none"] = Field(
        "scale",
        description="scale: /255 (/16 for digits; uploaded data only when it is 8-bit); "
        "standardize: per-feature mean/std of the training part (for SELU)",
    )
    num_words: Int = Field(
        10000, ge=10, le=100_000, description="imdb only: vocabulary size of the multi-hot encoding"
    )

    @model_validator(mode="after")
    def _fits_dataset(self) -> "DatasetSpec":
        info = dataset_info(self.name)
        if info is None:  # an upload checked by the API; the worker checks the hash against the file
            return self
        self.sha256 = info.sha256
        if self.validation_samples >= info.train:
            raise ValueError(
                f"validation_samples must be less than the {info.train} training examples of {self.name}, "
                f"got {self.validation_samples}"
            )
        if self.num_words != 10000 and self.name != "imdb":
            raise ValueError(f"num_words applies only to the imdb dataset, not {self.name}")
        return self


class ConvBlock(SpecModel):
    """One Conv2D block: convolution (same padding), then the hidden layers' activation, batch norm
    and dropout, then an optional 2x2 max-pooling."""

    filters: Int = Field(32, ge=1, le=1024, description="Convolution filters (1 to 1024)")
    kernel_size: Int = Field(3, ge=1, le=11, description="Square kernel side (1 to 11)")
    pool: Literal[2] | None = Field(None, description="2 for a 2x2 max-pooling after the block; null for none")


class ModelSpec(SpecModel):
    conv: list[ConvBlock] = Field(
        default_factory=list,
        max_length=8,
        description="Conv2D blocks before the dense layers, input side first (0 to 8); image datasets only",
    )
    hidden_layers: list[BoundedInt(ge=1, le=4096)] = Field(
        default_factory=lambda: [300, 100],
        max_length=100,
        description="Units of each hidden Dense layer, input side first (0 to 100 layers of 1 to 4096 units; "
        "the server's parameter bound still applies)",
    )
    activation: Literal[
        "relu", "leaky_relu", "prelu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish", "linear"
    ] = Field("elu", description="Hidden-layer activation; leaky_relu and prelu are separate layers; linear is none")
    initializer: Literal[
        "he_normal", "he_uniform", "lecun_normal", "glorot_uniform", "glorot_normal", "variance_scaling_fan_avg"
    ] = Field("he_normal", description="Kernel initializer of the hidden layers")
    batch_norm: Literal["none", "before_activation", "after_activation"] = Field(
        "none", description="BatchNormalization on each hidden layer; before the activation drops the Dense bias"
    )
    input_batch_norm: bool = Field(False, description="BatchNormalization right after Flatten")


class RegularizationSpec(SpecModel):
    kernel_l1: Factor = Field(0.0, description="L1 penalty factor on hidden kernels (0 to 10)")
    kernel_l2: Factor = Field(0.0, description="L2 penalty factor on hidden kernels (0 to 10)")
    bias_l1: Factor = Field(0.0, description="L1 penalty factor on hidden biases (0 to 10)")
    bias_l2: Factor = Field(0.0, description="L2 penalty factor on hidden biases (0 to 10)")
    activity_l1: Factor = Field(0.0, description="L1 penalty factor on hidden outputs (0 to 10)")
    activity_l2: Factor = Field(0.0, description="L2 penalty factor on hidden outputs (0 to 10)")
    max_norm: float | None = Field(
        None, gt=0.0, le=100.0, description="MaxNorm kernel constraint on each unit's incoming weights; null for none"
    )
    dropout: Rate = Field(0.0, description="Dropout rate after each hidden layer, in [0, 1)")
    input_dropout: Rate = Field(0.0, description="Dropout rate right after Flatten, in [0, 1)")
    dropout_kind: Literal["standard", "alpha", "mc", "mc_alpha"] = Field(
        "standard",
        description="standard Dropout, alpha AlphaDropout (for SELU), mc/mc_alpha stay active at inference",
    )
    spatial_dropout: bool = Field(
        False, description="Conv blocks drop whole feature maps (SpatialDropout2D) instead of single activations"
    )
    apply_to_output: bool = Field(False, description="Also regularize and constrain the output layer")


class OptimizerSpec(SpecModel):
    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw"] = Field(
        "nadam", description="Keras optimizer"
    )
    learning_rate: float = Field(0.001, gt=0.0, le=10.0, description="Initial learning rate lr0, in (0, 10]")
    momentum: Rate = Field(0.0, description="sgd and rmsprop momentum, in [0, 1)")
    nesterov: bool = Field(False, description="sgd: Nesterov momentum")
    beta_1: Rate = Field(0.9, description="adam/adamax/nadam/adamw first-moment decay, in [0, 1)")
    beta_2: Rate = Field(0.999, description="adam/adamax/nadam/adamw second-moment decay, in [0, 1)")
    rho: Rate = Field(0.9, description="rmsprop discounting factor, in [0, 1)")
    weight_decay: float | None = Field(
        None, ge=0.0, le=1.0, description="Decoupled weight decay, in [0, 1]; null for none"
    )
    clipnorm: float | None = Field(None, gt=0.0, le=1000.0, description="Clip each gradient to this norm")
    clipvalue: float | None = Field(None, gt=0.0, le=1000.0, description="Clip each gradient element to this value")

    @model_validator(mode="after")
    def _one_clip(self) -> "OptimizerSpec":
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ValueError("set clipnorm or clipvalue, not both")
        return self


# ---- learning-rate schedules: a discriminated union on ``name`` -------------
# Formulas (lr0 = optimizer.learning_rate, step = global batch index from 0,
# epoch = epoch index from 0); the worker and the plan's preview follow them.


class ConstantSchedule(SpecModel):
    """lr = lr0."""

    name: Literal["constant"] = "constant"


class PowerSchedule(SpecModel):
    """lr(step) = lr0 / (1 + step * decay) ** c, per step."""

    name: Literal["power"] = "power"
    decay: float = Field(1e-4, gt=0.0, le=1.0, description="Per-step decay (1/s in the notes), in (0, 1]")
    c: float = Field(1.0, gt=0.0, le=10.0, description="Power c, in (0, 10]")


class ExponentialSchedule(SpecModel):
    """Two forms of the same decay, mutually exclusive.

    The notes' form: lr(t) = lr0 * 0.1 ** (t / s), t the epoch or the step.
    Keras' ``ExponentialDecay`` form: lr(step) = lr0 * decay_rate ** (step / decay_steps),
    the exponent floored when ``staircase``; always per step.
    """

    name: Literal["exponential"] = "exponential"
    s: float | None = Field(
        None, gt=0.0, le=1e8, description="Epochs (or steps) for a tenfold decrease; 20 when no decay_steps is given"
    )
    per: Literal["epoch", "step"] = Field("epoch", description="Whether t counts epochs or steps (s form)")
    decay_steps: BoundedInt(ge=1, le=100_000_000) | None = Field(None, description="Keras form: steps over which the rate is multiplied by decay_rate"
    )
    decay_rate: float | None = Field(None, gt=0.0, le=1.0, description="Keras form: multiplier per decay_steps, in (0, 1]")
    staircase: bool | None = Field(
        None, description="Keras form: decay in whole steps of decay_steps; null is false"
    )

    @model_validator(mode="after")
    def _one_form(self) -> "ExponentialSchedule":
        keras_form = self.decay_steps is not None or self.decay_rate is not None
        if not keras_form:
            if self.staircase is not None:
                raise ValueError("staircase applies only to the Keras form (decay_steps, decay_rate)")
            if self.s is None:
                self.s = 20.0
            return self
        if self.s is not None:
            raise ValueError("set s (the notes' form) or decay_steps and decay_rate (Keras' form), not both")
        if self.decay_steps is None or self.decay_rate is None:
            raise ValueError("Keras' form needs both decay_steps and decay_rate")
        if self.per == "epoch" and "per" in self.model_fields_set:
            raise ValueError("Keras' form counts steps: per must be step")
        self.per = "step"
        return self


class PiecewiseSchedule(SpecModel):
    """lr = values[i] while epoch < boundaries[i]; values[-1] after the last boundary."""

    name: Literal["piecewise"] = "piecewise"
    boundaries: list[BoundedInt(ge=1, le=100_000)] = Field(
        default_factory=lambda: [5, 15], min_length=1, max_length=64, description="Epochs where the rate changes"
    )
    values: list[Annotated[float, Field(gt=0.0, le=10.0)]] = Field(
        default_factory=lambda: [0.01, 0.005, 0.001],
        min_length=2,
        max_length=65,
        description="Rates, one more than boundaries",
    )

    @model_validator(mode="after")
    def _shape(self) -> "PiecewiseSchedule":
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                f"piecewise needs len(values) = len(boundaries) + 1, got {len(self.values)} values "
                f"for {len(self.boundaries)} boundaries"
            )
        if any(later <= earlier for earlier, later in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"piecewise boundaries must increase strictly, got {self.boundaries}")
        return self


class PlateauSchedule(SpecModel):
    """Keras ReduceLROnPlateau: lr *= factor after ``patience`` epochs without improvement."""

    name: Literal["plateau"] = "plateau"
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="Multiplier applied on a plateau, in (0, 1)")
    patience: Int = Field(5, ge=0, le=1000, description="Epochs without improvement before reducing")
    monitor: Monitor = Field("val_loss", description="Metric watched")
    min_lr: float = Field(0.0, ge=0.0, le=10.0, description="Lower bound on the rate")


class OneCycleSchedule(SpecModel):
    """The notes' 1cycle, per iteration over iterations = steps_per_epoch * epochs.

    Rises linearly from start_rate to max_rate over half of the first
    (iterations - last_iterations) steps, falls back to start_rate over the
    other half, then falls linearly to last_rate over the last iterations.
    """

    name: Literal["one_cycle"] = "one_cycle"
    max_rate: float = Field(0.05, gt=0.0, le=10.0, description="Peak rate")
    start_rate: float | None = Field(None, gt=0.0, le=10.0, description="First rate; null for max_rate / 10")
    last_iterations: BoundedInt(ge=1, le=10_000_000) | None = Field(None, description="Length of the final descent; null for iterations // 10 + 1"
    )
    last_rate: float | None = Field(None, gt=0.0, le=10.0, description="Final rate; null for start_rate / 1000")


class CosineSchedule(SpecModel):
    """Keras CosineDecay, per step, with an optional linear warmup from 0 to lr0."""

    name: Literal["cosine"] = "cosine"
    decay_steps: Int = Field(1000, ge=1, le=100_000_000, description="Steps of the cosine decay")
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Floor as a fraction of lr0, in [0, 1]")
    warmup_steps: Int = Field(0, ge=0, le=100_000_000, description="Linear warmup steps before the decay")


class CosineRestartsSchedule(SpecModel):
    """Keras CosineDecayRestarts, per step."""

    name: Literal["cosine_restarts"] = "cosine_restarts"
    first_decay_steps: Int = Field(1000, ge=1, le=100_000_000, description="Steps of the first period")
    t_mul: float = Field(2.0, ge=1.0, le=10.0, description="Growth of each period's length, in [1, 10] (periods never shrink)")
    m_mul: float = Field(1.0, gt=0.0, le=1.0, description="Scale of each restart's initial rate, in (0, 1]")
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Floor as a fraction of the period's rate, in [0, 1]")


Schedule = Annotated[
    Union[
        ConstantSchedule,
        PowerSchedule,
        ExponentialSchedule,
        PiecewiseSchedule,
        PlateauSchedule,
        OneCycleSchedule,
        CosineSchedule,
        CosineRestartsSchedule,
    ],
    Field(discriminator="name"),
]
SCHEDULES = ("constant", "power", "exponential", "piecewise", "plateau", "one_cycle", "cosine", "cosine_restarts")


class EarlyStoppingSpec(SpecModel):
    patience: Int = Field(5, ge=0, le=1000, description="Epochs without improvement before stopping")
    monitor: Monitor = Field("val_loss", description="Metric watched")
    min_delta: float = Field(0.0, ge=0.0, le=10.0, description="Smallest change that counts as improvement")
    restore_best_weights: bool = Field(True, description="Keep the weights of the best epoch")


class TrainingSpec(SpecModel):
    epochs: Int = Field(10, ge=1, le=1000, description="Passes over the training set (1 to 1000)")
    batch_size: Int = Field(32, ge=1, le=8192, description="Examples per gradient step (1 to 8192)")
    seed: Int = Field(42, ge=0, le=2**31 - 1, description="Seed for weights, shuffling and dropout")
    early_stopping: EarlyStoppingSpec | None = Field(None, description="Keras EarlyStopping; null for none")


class EvaluationSpec(SpecModel):
    test_set: bool = Field(True, description="Evaluate on the loader's test set at the end")
    mc_samples: Int = Field(
        0, ge=0, le=1000, description="Monte-Carlo dropout passes over the test set (0 to 1000); 0 for none"
    )
    layer_stats_every: Int = Field(
        1,
        ge=0,
        le=1000,
        description="Per-layer snapshot every this many epochs (0 to 1000; 0 for none); "
        "the one before training and the last epoch's are always kept",
    )
    probe_examples: Int = Field(
        256,
        ge=1,
        le=1024,
        description="Validation examples (the first ones) the per-layer activations and gradients are measured on "
        "(1 to 1024)",
    )


class RunSpec(SpecModel):
    """One training run, complete."""

    spec_version: Annotated[Literal[1], BeforeValidator(_no_bool)] = Field(SPEC_VERSION, description="Version of this contract")
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: Schedule = Field(default_factory=ConstantSchedule)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)

    @model_validator(mode="after")
    def _conv_fits_dataset(self) -> "RunSpec":
        if self.regularization.spatial_dropout and not self.model.conv:
            raise _field_error(("regularization", "spatial_dropout"), "applies only to model.conv blocks; none are set")
        if not self.model.conv:
            return self
        info = dataset_info(self.dataset.name)
        if info is None:
            return self
        if not info.image:
            images = ", ".join(IMAGE_SHAPES)
            raise _field_error(
                ("model", "conv"),
                f"needs an image dataset ({images} or uploaded images); {self.dataset.name} is not one",
            )
        shape = info.shape
        pools = sum(1 for block in self.model.conv if block.pool)
        side = min(shape[:2])
        if side >> pools < 1:
            raise _field_error(
                ("model", "conv"),
                f"{pools} poolings shrink the {shape[0]}x{shape[1]} images of {self.dataset.name} below 1 pixel; "
                f"at most {side.bit_length() - 1} fit",
            )
        return self


def _field_error(loc: tuple[str, ...], message: str) -> ValidationError:
    """A validation error placed at ``loc``, for rules that span sections of the spec."""
    error = PydanticCustomError("value_error", message)
    return ValidationError.from_exception_data("RunSpec", [InitErrorDetails(type=error, loc=loc, input=None)])


# ---- helpers shared by API and worker ---------------------------------------


def default_spec() -> dict[str, Any]:
    """A complete default spec as plain JSON data."""
    return RunSpec().model_dump(mode="json")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``.

    Nested dicts merge key by key, except a schedule whose ``name`` changes:
    the new schedule replaces the old one whole, so no parameter of the old
    kind leaks into it.
    """
    merged = {}
    for key, current in base.items():
        if key not in override:
            merged[key] = _copy(current)
            continue
        value = override[key]
        if isinstance(value, dict) and isinstance(current, dict):
            if "name" in value and current.get("name") != value["name"] and key == "schedule":
                merged[key] = _copy(value)
            else:
                merged[key] = deep_merge(current, value)
        else:
            merged[key] = _copy(value)
    for key, value in override.items():
        if key not in base:
            merged[key] = _copy(value)
    return merged


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copy(value: Any) -> Any:
    """A deep copy of JSON data, a few times faster than copy.deepcopy (each clone merges a whole spec)."""
    kind = type(value)
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return value if kind in _SCALARS else copy.deepcopy(value)


def build_spec(partial: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> RunSpec:
    """Validate ``partial`` merged over ``base`` (the defaults when omitted)."""
    return RunSpec.model_validate(deep_merge(base or default_spec(), partial or {}))


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and the schedule stay leaves' values."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Return ``data`` with the dotted ``path`` set to ``value`` as a partial-spec override."""
    keys = path.split(".")
    override: dict[str, Any] = {}
    node = override
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return deep_merge(data, override)


def steps_per_epoch(spec: RunSpec) -> int:
    """Batches per epoch: Keras counts the last, partial batch too."""
    return math.ceil(training_examples(spec) / spec.training.batch_size)


def training_examples(spec: RunSpec) -> int:
    info = dataset_info(spec.dataset.name)
    if info is None:
        raise ValueError(f"the size of {spec.dataset.name} is known only where the dataset catalog is")
    available = info.train - spec.dataset.validation_samples
    if spec.dataset.train_samples is not None:
        return min(available, spec.dataset.train_samples)
    return available


def spec_warnings(spec: RunSpec) -> list[str]:
    """Advice that does not make a spec invalid."""
    warnings = []
    reg = spec.regularization
    if reg.dropout_kind in ("alpha", "mc_alpha") and spec.model.activation != "selu":
        warnings.append(
            f"regularization.dropout_kind={reg.dropout_kind} is meant for SELU networks; "
            f"model.activation is {spec.model.activation}"
        )
    if spec.model.activation == "selu" and spec.dataset.preprocessing != "standardize":
        warnings.append("SELU self-normalizes only on standardized inputs: set dataset.preprocessing=standardize")
    if spec.evaluation.mc_samples and reg.dropout == 0 and reg.input_dropout == 0:
        warnings.append("evaluation.mc_samples has no effect without dropout")
    return warnings
