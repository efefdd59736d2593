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
import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

SPEC_VERSION = 1

DATASETS = ("fashion_mnist", "mnist", "cifar10", "imdb", "digits")
# Training examples each loader yields before the validation head is cut off,
# and its own test set. digits has no official split: the worker keeps the
# last 360 of scikit-learn's 1797 images as the test set.
DATASET_TRAIN_SIZES = {"fashion_mnist": 60000, "mnist": 60000, "cifar10": 50000, "imdb": 25000, "digits": 1437}
DATASET_TEST_SIZES = {"fashion_mnist": 10000, "mnist": 10000, "cifar10": 10000, "imdb": 25000, "digits": 360}
DATASET_CLASSES = {"fashion_mnist": 10, "mnist": 10, "cifar10": 10, "imdb": 2, "digits": 10}

ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish")
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


class SpecModel(BaseModel):
    """Base for every spec section: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
Factor = Annotated[float, Field(ge=0.0, le=10.0)]


class DatasetSpec(SpecModel):
    name: Literal["fashion_mnist", "mnist", "cifar10", "imdb", "digits"] = Field(
        "fashion_mnist", description="Keras dataset to train on; digits is scikit-learn's 8x8 set, always offline"
    )
    validation_samples: int = Field(
        5000, ge=1, le=49_999, description="Examples taken from the head of the training set for validation"
    )
    train_samples: int | None = Field(
        None,
        ge=1,
        le=60_000,
        description="Cap on the training examples used after the validation head; null uses all of them",
    )
    preprocessing: Literal["scale", "standardize", "none"] = Field(
        "scale",
        description="scale: /255 (/16 for digits); standardize: per-feature mean/std of the training part (for SELU)",
    )
    num_words: int = Field(
        10000, ge=10, le=100_000, description="imdb only: vocabulary size of the multi-hot encoding"
    )

    @model_validator(mode="after")
    def _fits_dataset(self) -> "DatasetSpec":
        available = DATASET_TRAIN_SIZES[self.name]
        if self.validation_samples >= available:
            raise ValueError(
                f"validation_samples must be less than the {available} training examples of {self.name}, "
                f"got {self.validation_samples}"
            )
        if self.num_words != 10000 and self.name != "imdb":
            raise ValueError(f"num_words applies only to the imdb dataset, not {self.name}")
        return self


class ModelSpec(SpecModel):
    hidden_layers: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [300, 100],
        max_length=16,
        description="Units of each hidden Dense layer, input side first (0 to 16 layers of 1 to 4096 units)",
    )
    activation: Literal["relu", "leaky_relu", "prelu", "elu", "selu", "tanh", "sigmoid", "gelu", "swish"] = Field(
        "elu", description="Hidden-layer activation; leaky_relu and prelu are separate layers"
    )
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
# epoch = epoch index from 0); the worker and the dashboard preview follow them.


class ConstantSchedule(SpecModel):
    """lr = lr0."""

    name: Literal["constant"] = "constant"


class PowerSchedule(SpecModel):
    """lr(step) = lr0 / (1 + step * decay) ** c, per step."""

    name: Literal["power"] = "power"
    decay: float = Field(1e-4, gt=0.0, le=1.0, description="Per-step decay (1/s in the notes), in (0, 1]")
    c: float = Field(1.0, gt=0.0, le=10.0, description="Power c, in (0, 10]")


class ExponentialSchedule(SpecModel):
    """lr(t) = lr0 * 0.1 ** (t / s), t the epoch or the step."""

    name: Literal["exponential"] = "exponential"
    s: float = Field(20.0, gt=0.0, le=1e8, description="Epochs (or steps) for a tenfold decrease")
    per: Literal["epoch", "step"] = Field("epoch", description="Whether t counts epochs or steps")


class PiecewiseSchedule(SpecModel):
    """lr = values[i] while epoch < boundaries[i]; values[-1] after the last boundary."""

    name: Literal["piecewise"] = "piecewise"
    boundaries: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
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
    patience: int = Field(5, ge=0, le=1000, description="Epochs without improvement before reducing")
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
    last_iterations: int | None = Field(
        None, ge=1, le=10_000_000, description="Length of the final descent; null for iterations // 10 + 1"
    )
    last_rate: float | None = Field(None, gt=0.0, le=10.0, description="Final rate; null for start_rate / 1000")


class CosineSchedule(SpecModel):
    """Keras CosineDecay, per step, with an optional linear warmup from 0 to lr0."""

    name: Literal["cosine"] = "cosine"
    decay_steps: int = Field(1000, ge=1, le=100_000_000, description="Steps of the cosine decay")
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Floor as a fraction of lr0, in [0, 1]")
    warmup_steps: int = Field(0, ge=0, le=100_000_000, description="Linear warmup steps before the decay")


class CosineRestartsSchedule(SpecModel):
    """Keras CosineDecayRestarts, per step."""

    name: Literal["cosine_restarts"] = "cosine_restarts"
    first_decay_steps: int = Field(1000, ge=1, le=100_000_000, description="Steps of the first period")
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
    patience: int = Field(5, ge=0, le=1000, description="Epochs without improvement before stopping")
    monitor: Monitor = Field("val_loss", description="Metric watched")
    min_delta: float = Field(0.0, ge=0.0, le=10.0, description="Smallest change that counts as improvement")
    restore_best_weights: bool = Field(True, description="Keep the weights of the best epoch")


class TrainingSpec(SpecModel):
    epochs: int = Field(10, ge=1, le=1000, description="Passes over the training set (1 to 1000)")
    batch_size: int = Field(32, ge=1, le=8192, description="Examples per gradient step (1 to 8192)")
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Seed for weights, shuffling and dropout")
    early_stopping: EarlyStoppingSpec | None = Field(None, description="Keras EarlyStopping; null for none")


class EvaluationSpec(SpecModel):
    test_set: bool = Field(True, description="Evaluate on the loader's test set at the end")
    mc_samples: int = Field(
        0, ge=0, le=1000, description="Monte-Carlo dropout passes over the test set (0 to 1000); 0 for none"
    )


class RunSpec(SpecModel):
    """One training run, complete."""

    spec_version: Literal[1] = Field(SPEC_VERSION, description="Version of this contract")
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: Schedule = Field(default_factory=ConstantSchedule)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)


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
    merged = copy.deepcopy(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            if "name" in value and current.get("name") != value["name"] and key == "schedule":
                merged[key] = copy.deepcopy(value)
            else:
                merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


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
    available = DATASET_TRAIN_SIZES[spec.dataset.name] - spec.dataset.validation_samples
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
