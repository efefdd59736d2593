// Presets: the reference notes' experiments, one click each. Every preset is a
// study payload (base spec + grid) for POST /api/experiments; the base follows
// the Keras chapter notebook (Fashion-MNIST, 300-100 ELU/He MLP, Nadam) and
// tests shrink epochs / train_samples / layers before submitting.

const NOTEBOOK_BASE = {
  dataset: { name: "fashion_mnist", validation_samples: 5000 },
  model: { hidden_layers: [300, 100], activation: "elu", initializer: "he_normal" },
  optimizer: { name: "nadam", learning_rate: 0.001 },
  training: { epochs: 10, batch_size: 32 },
};

export const PRESETS = [
  {
    id: "l1-l2",
    title: "No regularization vs L1 vs L2",
    summary: "Same network with no penalty, an L1 and an L2 kernel penalty; Compare's Layers tab overlays each layer's weight histograms.",
    tags: ["l1", "l2", "layers"],
    base: NOTEBOOK_BASE,
    grid: {
      regularization: [
        { kernel_l1: 0, kernel_l2: 0 },
        { kernel_l1: 0.0001, kernel_l2: 0 },
        { kernel_l1: 0, kernel_l2: 0.01 },
      ],
    },
  },
  {
    id: "dropout",
    title: "Dropout 0.2/0.5",
    summary: "Dropout after each hidden layer at 20 % and at 50 %.",
    tags: ["dropout"],
    base: NOTEBOOK_BASE,
    grid: { "regularization.dropout": [0.2, 0.5] },
  },
  {
    id: "max-norm",
    title: "Max-norm",
    summary: "Max-norm constraint (r = 1) on each unit's incoming weights, against none.",
    tags: ["max-norm"],
    base: NOTEBOOK_BASE,
    grid: { "regularization.max_norm": [null, 1.0] },
  },
  {
    id: "batch-norm",
    title: "Batch norm vs none",
    summary: "BatchNormalization after the activation, before it, and none.",
    tags: ["batch-norm"],
    base: { ...NOTEBOOK_BASE, model: { ...NOTEBOOK_BASE.model, activation: "relu" } },
    grid: { "model.batch_norm": ["none", "after_activation", "before_activation"] },
  },
  {
    id: "selu-mc",
    title: "SELU + AlphaDropout + MC dropout",
    summary: "Self-normalizing net (SELU, LeCun init, standardized inputs) with AlphaDropout and its MC variant.",
    tags: ["selu", "mc-dropout"],
    base: {
      ...NOTEBOOK_BASE,
      dataset: { name: "fashion_mnist", validation_samples: 5000, preprocessing: "standardize" },
      model: { hidden_layers: [300, 100], activation: "selu", initializer: "lecun_normal" },
      optimizer: { name: "sgd", learning_rate: 0.01, momentum: 0.9, nesterov: true },
      regularization: { dropout: 0.2 },
      evaluation: { test_set: true, mc_samples: 50 },
    },
    grid: { "regularization.dropout_kind": ["alpha", "mc_alpha"] },
  },
  {
    id: "schedules",
    title: "LR schedules: power / exponential / piecewise / plateau / 1cycle",
    summary: "SGD with the notes' five schedules; the preview shows each rate before training.",
    tags: ["schedules"],
    base: {
      ...NOTEBOOK_BASE,
      optimizer: { name: "sgd", learning_rate: 0.01 },
      training: { epochs: 25, batch_size: 32 },
    },
    grid: {
      schedule: [
        { name: "power", decay: 0.0001, c: 1 },
        { name: "exponential", s: 20, per: "epoch" },
        { name: "piecewise", boundaries: [5, 15], values: [0.01, 0.005, 0.001] },
        { name: "plateau", factor: 0.5, patience: 5, monitor: "val_loss", min_lr: 0 },
        { name: "one_cycle", max_rate: 0.05 },
      ],
    },
  },
];

// Seeds 000/001 verbatim: a linear Dense(64) on Fashion-MNIST with the notes' penalties,
// then MaxNorm(2.), then Dropout(0.5) on top, Adam, batch 30.
const SEED_000_BASE = {
  dataset: { name: "fashion_mnist", validation_samples: 5000 },
  model: { hidden_layers: [64], activation: "linear", initializer: "glorot_uniform" },
  optimizer: { name: "adam", learning_rate: 0.001 },
  training: { epochs: 10, batch_size: 30 },
};
const SEED_000_PENALTIES = { kernel_l2: 0.01, activity_l1: 0.01 };

PRESETS.push(
  {
    id: "weight-decay",
    title: "Weight decay, max-norm and dropout (seeds 000/001)",
    summary: "Linear Dense(64) with L2 0.01 and activity L1 0.01, then MaxNorm(2.) added, then Dropout(0.5) too.",
    tags: ["l2", "max-norm", "dropout"],
    base: SEED_000_BASE,
    grid: {
      regularization: [
        { ...SEED_000_PENALTIES },
        { ...SEED_000_PENALTIES, max_norm: 2.0 },
        { ...SEED_000_PENALTIES, max_norm: 2.0, dropout: 0.5 },
      ],
    },
  },
  {
    id: "keras-decays",
    title: "ExponentialDecay vs CosineDecayRestarts (seed 001)",
    summary: "Keras' ExponentialDecay(1e-2, decay_steps=10000, decay_rate=0.9) against CosineDecayRestarts(0.01, 1000).",
    tags: ["schedules"],
    base: {
      ...SEED_000_BASE,
      optimizer: { name: "adam", learning_rate: 0.01 },
      regularization: { ...SEED_000_PENALTIES, max_norm: 2.0, dropout: 0.5 },
    },
    grid: {
      schedule: [
        { name: "exponential", decay_steps: 10000, decay_rate: 0.9 },
        { name: "cosine_restarts", first_decay_steps: 1000 },
      ],
    },
  },
  {
    id: "imdb-l1-l2",
    title: "IMDB: basic vs L1 vs L2 (seed 002)",
    summary:
      "128-128 ReLU on 100-word multi-hot reviews, Adam, 20 epochs of batch 500, L1 or L2 0.001 on both hidden layers. " +
      "Needs imdb.npz in the worker's Keras cache ($KERAS_HOME/datasets); without it each run fails saying where to put it.",
    tags: ["imdb", "l1", "l2"],
    base: {
      dataset: { name: "imdb", num_words: 100, validation_samples: 5000 },
      model: { hidden_layers: [128, 128], activation: "relu", initializer: "glorot_uniform" },
      optimizer: { name: "adam", learning_rate: 0.001 },
      training: { epochs: 20, batch_size: 500 },
    },
    grid: {
      regularization: [
        { kernel_l1: 0, kernel_l2: 0 },
        { kernel_l1: 0.001, kernel_l2: 0 },
        { kernel_l1: 0, kernel_l2: 0.001 },
      ],
    },
  },
);

// Seed 004's first half: keeping signals healthy through depth. The runs record
// per-layer statistics, and the Layers views show what the notes describe
// (SELU keeps each layer's output near std 1; sigmoid saturates; batch norm re-centres).
PRESETS.push(
  {
    id: "depth-init",
    title: "SELU + LeCun vs ReLU + He vs sigmoid + Glorot at depth 20 (seed 004)",
    summary:
      "20 hidden layers of 100 units on standardized Fashion-MNIST, SGD 1e-3: each activation with its initializer. " +
      "The Layers views show activation std and gradient norm through depth.",
    tags: ["selu", "initialization", "layers"],
    base: {
      dataset: { name: "fashion_mnist", validation_samples: 5000, preprocessing: "standardize" },
      model: { hidden_layers: Array(20).fill(100), activation: "selu", initializer: "lecun_normal" },
      optimizer: { name: "sgd", learning_rate: 0.001 },
      training: { epochs: 5, batch_size: 32 },
    },
    grid: {
      model: [
        { activation: "selu", initializer: "lecun_normal" },
        { activation: "relu", initializer: "he_normal" },
        { activation: "sigmoid", initializer: "glorot_uniform" },
      ],
    },
  },
  {
    id: "batch-norm-004",
    title: "Batch norm vs none, seed 004's networks",
    summary:
      "300-100 ReLU, SGD 1e-3: no batch norm; batch norm on the inputs and after each hidden layer's activation; " +
      "on the inputs and before each activation (no bias). The Layers views show each layer's activations.",
    tags: ["batch-norm", "layers"],
    base: {
      dataset: { name: "fashion_mnist", validation_samples: 5000 },
      model: { hidden_layers: [300, 100], activation: "relu", initializer: "glorot_uniform" },
      optimizer: { name: "sgd", learning_rate: 0.001 },
      training: { epochs: 10, batch_size: 32 },
    },
    grid: {
      model: [
        { batch_norm: "none", input_batch_norm: false },
        { batch_norm: "after_activation", input_batch_norm: true },
        { batch_norm: "before_activation", input_batch_norm: true },
      ],
    },
  },
);

export function findPreset(id) {
  return PRESETS.find((preset) => preset.id === id) || null;
}
