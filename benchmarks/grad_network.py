r"""Cost of training the grad network against plain fitting, per autodiff mode.

  python -m benchmarks.grad_network [--batch=8192 --depth=8 --width=256 --repeats=20]

Same batch and an 8x256 swish integral network for every variant, measured side by side
in one run (interleaved rounds, median per variant):
  (a) plain:    fit Phi itself (one forward + backward)
  (b) forward:  grad network via tf.autodiff.ForwardAccumulator
  (c) tape:     grad network via nested tf.GradientTape
  (d) explicit: grad network via the hand-written jvp of IntegralMLP (shared weights), whose
      activations have a hand-written backward pass (fields.dual_activation)
  (d0) explicit, but autodiff of the activation's forward expressions (what (d) replaced)
  (e), (f): (a) and (d) under Keras' mixed_bfloat16 policy (float32 variables, bfloat16
      products), the same weights
plus the Phi forward rate and the explicit grad step's rate in GFLOP/s against the best fp32
tf.matmul of the same run. A grad step costs ~6x the forward FLOPs of Phi per sample (primal
and tangent forward, twice that backward).
"""

from absl import app
from absl import flags
import keras
import tensorflow as tf

from autoint_tf import fields
from autoint_tf import grad_net
from autoint_tf import training
from benchmarks import timing

flags.DEFINE_integer("batch", 8192, "Samples a step.")
flags.DEFINE_integer("depth", 8, "Hidden layers.")
flags.DEFINE_integer("width", 256, "Hidden units.")
flags.DEFINE_integer("num_frequencies", 4, "PE octaves of t.")
flags.DEFINE_integer("repeats", 20, "Timed rounds.")
FLAGS = flags.FLAGS


def _train_step(phi, loss_fn, x, f):
  optimizer = keras.optimizers.Adam(1e-4)
  variables = phi.trainable_variables

  @tf.function(jit_compile=False)
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(tf.cast(loss_fn(x), tf.float32) - f))
    optimizer.apply_gradients(zip(training.gradients(tape, loss, variables), variables))
    return loss

  return lambda: step().numpy()


def _autodiff_dual(name, z, z_dot, w0=30.0):
  act, first, _ = fields.ACTIVATIONS[name]
  return act(z, w0), first(z, w0) * z_dot


def _traced_with_autodiff_activation(step):
  """`step`, traced (on its first call) with fields.dual_activation replaced by plain autodiff
  of the same expressions: the explicit grad network as it was before the hand-written
  backward pass, for a side-by-side row."""
  traced = []

  def call():
    if traced:
      return step()
    original, fields.dual_activation = fields.dual_activation, _autodiff_dual
    try:
      return step()
    finally:
      fields.dual_activation = original
      traced.append(True)

  return call


def phi_flops_per_sample(phi, in_dim):
  mlp = phi.mlp
  dims = [in_dim * (1 + 2 * phi.encoders["t"].num_frequencies)] + [mlp.width] * mlp.depth
  dims.append(mlp.output_dim)
  return sum(2 * a * b for a, b in zip(dims[:-1], dims[1:]))


def main(argv):
  del argv
  tf.config.optimizer.set_jit(False)
  keras.utils.set_random_seed(0)
  phi = fields.IntegralMLP(("t",), output_dim=1, depth=FLAGS.depth, width=FLAGS.width,
                           num_frequencies=FLAGS.num_frequencies)
  x = {"t": tf.random.uniform([FLAGS.batch, 1], -1.0, 2.0)}
  f = tf.random.normal([FLAGS.batch, 1])
  phi(x)
  variants = {"plain": (phi, phi)}
  for mode in ("forward", "tape", "explicit"):
    variants[mode] = (phi, grad_net.GradNetwork(phi, mode=mode, validate=False))
  low = fields.IntegralMLP(("t",), output_dim=1, depth=FLAGS.depth, width=FLAGS.width,
                           num_frequencies=FLAGS.num_frequencies, dtype="mixed_bfloat16")
  low(x)
  low.set_weights(phi.get_weights())
  variants["plain_bf16"] = (low, low)
  variants["explicit_bf16"] = (low, grad_net.GradNetwork(low, mode="explicit", validate=False))
  steps = {k: _train_step(p, net, x, f) for k, (p, net) in variants.items()}
  steps["explicit_autodiff_act"] = _traced_with_autodiff_activation(
      _train_step(phi, grad_net.GradNetwork(phi, mode="explicit", validate=False), x, f))

  forward = tf.function(lambda: phi(x), jit_compile=False)
  evals = {"phi_forward": lambda: forward().numpy()}
  sizes = (1024, 2048, 4096)  # the reference is the best fp32 matmul rate among these
  for n in sizes:
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    mm = tf.function(lambda a=a, b=b: tf.reduce_sum(tf.matmul(a, b)), jit_compile=False)
    evals[f"matmul{n}"] = lambda mm=mm: mm().numpy()

  times = timing.interleaved({**steps, **evals}, FLAGS.repeats)
  phi_gflops = phi_flops_per_sample(phi, 1) * FLAGS.batch / times["phi_forward"] / 1e9
  rates = {n: 2 * n**3 / times[f"matmul{n}"] / 1e9 for n in sizes}
  n = max(rates, key=rates.get)
  mm_gflops = rates[n]

  print(f"batch {FLAGS.batch}, {FLAGS.depth}x{FLAGS.width} swish, PE {FLAGS.num_frequencies}, "
        f"median of {FLAGS.repeats} interleaved rounds, TF {tf.__version__}")
  print("| variant | ms / training step | ratio to (a) plain |")
  print("|---|---|---|")
  for label, k in (("(a) plain Phi fit", "plain"), ("(b) ForwardAccumulator", "forward"),
                   ("(c) GradientTape", "tape"), ("(d) explicit jvp", "explicit"),
                   ("(d0) explicit jvp, autodiff of the activation", "explicit_autodiff_act"),
                   ("(e) plain Phi fit, mixed_bfloat16", "plain_bf16"),
                   ("(f) explicit jvp, mixed_bfloat16", "explicit_bf16")):
    print(f"| {label} | {1e3 * times[k]:.1f} | {times[k] / times['plain']:.2f} |")
  print()
  print("| evaluation | ms | GFLOP/s | fraction of matmul rate |")
  print("|---|---|---|---|")
  print(f"| Phi forward ({FLAGS.batch} samples) | {1e3 * times['phi_forward']:.2f} | "
        f"{phi_gflops:.0f} | {phi_gflops / mm_gflops:.2f} |")
  grad_gflops = 6 * phi_flops_per_sample(phi, 1) * FLAGS.batch / times["explicit"] / 1e9
  print(f"| grad-network training step, explicit ({FLAGS.batch / times['explicit']:.0f} "
        f"samples/s) | {1e3 * times['explicit']:.1f} | {grad_gflops:.0f} | "
        f"{grad_gflops / mm_gflops:.2f} |")
  for m in sizes:
    print(f"| tf.matmul {m}x{m} fp32 | {1e3 * times[f'matmul{m}']:.1f} | {rates[m]:.0f} | "
          f"{rates[m] / mm_gflops:.2f} |")
  best = min(("forward", "explicit"), key=times.get)
  print(f"\nfastest grad-network mode: {best} "
        f"(explicit / forward = {times['explicit'] / times['forward']:.2f}); hand-written / "
        f"autodiff activation backward: {times['explicit'] / times['explicit_autodiff_act']:.2f}; "
        f"grad step / plain step: {times[best] / times['plain']:.2f} (goal <= 2.0); "
        f"mixed_bfloat16 / float32 grad step: {times['explicit_bf16'] / times['explicit']:.2f}; "
        f"goal Phi >= 50% of matmul: {phi_gflops / mm_gflops:.0%}")


if __name__ == "__main__":
  app.run(main)
