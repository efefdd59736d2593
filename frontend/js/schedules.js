// Learning-rate schedules, computed in the browser for the preview.
// The formulas are those of reglab/spec.py's schedule docstrings (the notes'
// formulas, Keras' CosineDecay / CosineDecayRestarts, the notebook's
// OneCycleScheduler) and must give what the worker records: step = global
// batch index from 0, epoch = epoch index from 0, lr0 = optimizer.learning_rate.
// Pure functions, no DOM: node and the tests import this module directly.

// Schedules that change the rate inside an epoch (the rest change it per epoch).
const PER_STEP = new Set(["power", "one_cycle", "cosine", "cosine_restarts"]);

export function isPerStep(schedule) {
  return PER_STEP.has(schedule.name) || (schedule.name === "exponential" && schedule.per === "step");
}

// Training examples after the validation head, capped by train_samples.
export function countTrainingExamples(spec, datasets) {
  const info = datasets[spec.dataset.name];
  const available = info.train - spec.dataset.validation_samples;
  const cap = spec.dataset.train_samples;
  return cap == null ? available : Math.min(available, cap);
}

// Keras counts the last, partial batch too.
export function countStepsPerEpoch(spec, datasets) {
  return Math.ceil(countTrainingExamples(spec, datasets) / spec.training.batch_size);
}

// The rate used by batch `step` (0-based) of a run with `stepsPerEpoch` batches per epoch.
export function learningRateAt(spec, step, stepsPerEpoch) {
  const lr0 = spec.optimizer.learning_rate;
  const s = spec.schedule;
  const epoch = Math.floor(step / stepsPerEpoch);
  switch (s.name) {
    case "constant":
      return lr0;
    case "power":
      return lr0 / Math.pow(1 + step * s.decay, s.c);
    case "exponential":
      return lr0 * Math.pow(0.1, (s.per === "step" ? step : epoch) / s.s);
    case "piecewise":
      return piecewiseRate(s, epoch);
    case "plateau":
      // Depends on the metrics: the preview can only show the starting rate.
      return lr0;
    case "one_cycle":
      return oneCycleRate(s, step, stepsPerEpoch * spec.training.epochs);
    case "cosine":
      return cosineRate(s, step, lr0);
    case "cosine_restarts":
      return cosineRestartsRate(s, step, lr0);
    default:
      throw new Error(`unknown schedule ${s.name}`);
  }
}

function piecewiseRate(s, epoch) {
  for (let i = 0; i < s.boundaries.length; i++) {
    if (epoch < s.boundaries[i]) return s.values[i];
  }
  return s.values[s.values.length - 1];
}

// The notebook's OneCycleScheduler, with its defaults (`x || default`, as in Python's `or`).
export function oneCycleRate(s, iteration, iterations) {
  const startRate = s.start_rate || s.max_rate / 10;
  const lastIterations = s.last_iterations || Math.floor(iterations / 10) + 1;
  const half = Math.floor((iterations - lastIterations) / 2);
  const lastRate = s.last_rate || startRate / 1000;
  const interpolate = (iter1, iter2, rate1, rate2) => ((rate2 - rate1) * (iteration - iter1)) / (iter2 - iter1) + rate1;
  let rate;
  if (iteration < half) rate = interpolate(0, half, startRate, s.max_rate);
  else if (iteration < 2 * half) rate = interpolate(half, 2 * half, s.max_rate, startRate);
  else rate = interpolate(2 * half, iterations, startRate, lastRate);
  // Never below the final rate (as reglab/schedule_math.py, which the worker follows).
  return Math.max(rate, lastRate);
}

// Keras CosineDecay; with warmup_steps it warms up linearly from 0 to lr0 first.
function cosineRate(s, step, lr0) {
  const decayOf = (t) => {
    const fraction = t / s.decay_steps;
    const cosineDecayed = 0.5 * (1 + Math.cos(Math.PI * fraction));
    return lr0 * ((1 - s.alpha) * cosineDecayed + s.alpha);
  };
  if (!s.warmup_steps) return decayOf(Math.min(step, s.decay_steps));
  const t = Math.min(step, s.decay_steps + s.warmup_steps);
  if (t < s.warmup_steps) return (lr0 * t) / s.warmup_steps;
  return decayOf(t - s.warmup_steps);
}

// Keras CosineDecayRestarts.
function cosineRestartsRate(s, step, lr0) {
  let fraction = step / s.first_decay_steps;
  let restart;
  if (s.t_mul === 1) {
    restart = Math.floor(fraction);
    fraction -= restart;
  } else {
    restart = Math.floor(Math.log(1 - fraction * (1 - s.t_mul)) / Math.log(s.t_mul));
    const done = (1 - Math.pow(s.t_mul, restart)) / (1 - s.t_mul);
    fraction = (fraction - done) / Math.pow(s.t_mul, restart);
  }
  const cosineDecayed = 0.5 * Math.pow(s.m_mul, restart) * (1 + Math.cos(Math.PI * fraction));
  return lr0 * ((1 - s.alpha) * cosineDecayed + s.alpha);
}

// The per-step rates of a whole run: what the worker records as batch_learning_rate.
export function planStepRates(spec, stepsPerEpoch) {
  const total = stepsPerEpoch * spec.training.epochs;
  const rates = new Array(total);
  for (let step = 0; step < total; step++) rates[step] = learningRateAt(spec, step, stepsPerEpoch);
  return rates;
}

// The per-epoch rates: the worker's learning_rate series, the rate at each epoch's last step.
export function planEpochRates(spec, stepsPerEpoch) {
  const rates = [];
  for (let epoch = 0; epoch < spec.training.epochs; epoch++) {
    rates.push(learningRateAt(spec, (epoch + 1) * stepsPerEpoch - 1, stepsPerEpoch));
  }
  return rates;
}
