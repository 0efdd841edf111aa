r"""Frames per second of the live viewer's render path (serving/viewer.py: the camera's rays,
the model's checked render_rays, the displayed image, its JPEG for the page) at 64², 100² and
200², for AutoInt at N = 8 and for the quadrature baseline with the same networks, measured side
by side in one run (interleaved, medians). Then where an AutoInt frame's time goes at 100²: the
sampling network, the integral networks at the N + 1 posts, compositing, the request checks,
the rays, the image and its encoding, against the same run's fp32 matmul rate, and the frame's
render_rays graph by op (matmuls, activation, encoding, concatenation, elementwise products).

  python -m benchmarks.viewer [--presets=tiny,lego] [--repeats=7]

Models are built from the presets with untrained weights (a frame's arithmetic does not depend
on them): `tiny` is `make demo`'s model, `lego` the 45-minute lego recipe; the baseline is the
same preset with --config.renderer=quadrature.
"""

import dataclasses

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from autoint_tf import radiance
from autoint_tf import rays as rays_lib
from autoint_tf.serving import viewer
from benchmarks import report
from benchmarks import timing

flags.DEFINE_list("presets", ["tiny", "lego"], "Presets of train.radiance to time.")
flags.DEFINE_list("sizes", ["64", "100", "200"], "Square image sizes.")
flags.DEFINE_integer("repeats", 7, "Interleaved rounds of the AutoInt cases.")
flags.DEFINE_float("baseline_seconds", 60.0, "Time budget of the baseline's rounds at a size "
                   "(at least one round each).")
flags.DEFINE_bool("write", True, "Write results and the log's table.")
FLAGS = flags.FLAGS

# A Blender-like scene: cameras 4 units out, near/far 2 and 6, lego's field of view.
CONTEXT = {"background": [1.0, 1.0, 1.0], "near": 2.0, "far": 6.0, "ndc": False, "height": 100,
           "width": 100, "focal": 138.9, "pixel_center": 0.0, "box": None}


def camera():
  pose = rays_lib.orbit_poses(1, 4.0, (30.0,), phase_deg=20.0)[0]
  return viewer.Camera(np.asarray(pose, np.float32), 2 * np.arctan(0.5 * 100 / 138.9), 1.0)


def renderers(preset):
  """{label: (renderer, viewer Model)} of a preset: AutoInt and the baseline."""
  out = {}
  for renderer in ("autoint", "quadrature"):
    config = dataclasses.replace(radiance.preset(preset), renderer=renderer)
    model = radiance.make_renderer(config, tuple(CONTEXT["background"])).build_all()
    label = f"{preset} {'AutoInt N = 8' if renderer == 'autoint' else 'quadrature'}"
    out[label] = (model, viewer.from_renderer(model, CONTEXT, 8, label))
  return out


def frame_call(model, page, size):
  """One frame of the viewer's path, JPEG for the page included (viser encodes in
  set_background_image whether or not a browser is connected)."""
  cam = camera()

  def call():
    frame = viewer.render_frame(model, cam, size)
    page.scene.set_background_image(frame.image, format="jpeg", jpeg_quality=92)
    return frame
  return call


def network_flops(layer):
  """Multiply-adds x 2 of one evaluation of a layer's dense kernels."""
  return sum(2 * int(np.prod(w.shape)) for w in layer.weights if len(w.shape) == 2)


OP_GROUPS = (("matmul", ("MatMul",)), ("activation (swish)", ("Swish", "Sigmoid")),
             ("encoding (sin, cos)", ("Sin", "Cos")), ("concatenation", ("ConcatV2",)),
             ("elementwise products", ("Mul", "RealDiv", "AddV2", "Sub")))


def op_times(model, rays_o, rays_d, repeats=5):
  """Seconds by op group (OP_GROUPS) of one run of the render_rays graph: its frozen graph in a
  TF1 session, the step stats of a full trace."""
  from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-import-not-at-top
  from autoint_tf.serving import export  # pylint: disable=g-import-not-at-top
  fn, signature = export.radiance_functions(model, CONTEXT, 8)["render_rays"]
  frozen = convert_to_constants.convert_variables_to_constants_v2(
      tf.function(fn, input_signature=signature).get_concrete_function())
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
  feed = dict(zip([t.name for t in frozen.inputs], [rays_o, rays_d]))
  outs = [t.name for t in frozen.outputs]
  totals = {group: 0.0 for group, _ in OP_GROUPS}
  with tf.compat.v1.Session(graph=graph) as sess:
    for _ in range(2):
      sess.run(outs, feed)
    for _ in range(repeats):
      meta = tf.compat.v1.RunMetadata()
      sess.run(outs, feed, options=tf.compat.v1.RunOptions(trace_level=3), run_metadata=meta)
      for node in (n for dev in meta.step_stats.dev_stats for n in dev.node_stats):
        kind = node.timeline_label.split("(")[0].split("=")[-1].strip()
        group = next((g for g, kinds in OP_GROUPS if any(k in kind for k in kinds)), "other")
        totals[group] = totals.get(group, 0.0) + (
            node.op_end_rel_micros - node.op_start_rel_micros) / 1e6 / repeats
  return totals


def breakdown(model, vmodel, page, size=100):
  """Seconds of each part of an AutoInt frame at size², interleaved."""
  cam = camera()
  focal = viewer.focal_length(cam.fov_y, size)
  o, d = rays_lib.camera_rays(cam.c2w, size, size, focal)
  o, d = tf.reshape(o, [-1, 3]), tf.reshape(d, [-1, 3])
  b = int(o.shape[0])
  scene = {"rays_o": o, "rays_d": d, "near": tf.fill([b], 2.0), "far": tf.fill([b], 6.0)}
  posts = tf.function(lambda r: model.posts(r, 8), jit_compile=False)
  p = posts(scene)
  inputs = rays_lib.broadcast_rays(o, d, p)
  integrals = tf.function(lambda x: model.integrals(x), jit_compile=False)
  unchecked = tf.function(lambda r: {k: v for k, v in model.render(r, 8).items()
                                     if k in ("rgb", "depth", "opacity")}, jit_compile=False)
  outputs = {k: v.numpy() for k, v in unchecked(scene).items()}
  image = viewer.display(outputs, "rgb")
  a = tf.random.normal([2048, 2048])
  mm = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)), jit_compile=False)
  cases = {
      "frame": frame_call(vmodel, page, size),
      "rays": lambda: viewer.camera_rays(size, size)(cam.c2w, np.float32(focal))[0].numpy(),
      "render_rays (checked, numpy out)": lambda: vmodel.predict(
          {"rays_o": o.numpy(), "rays_d": d.numpy()}, "render_rays"),
      "render (unchecked)": lambda: unchecked(scene)["rgb"].numpy(),
      "sampling network (posts)": lambda: posts(scene).numpy(),
      "integral networks at N + 1 posts": lambda: integrals(inputs)[0].numpy(),
      "display image": lambda: viewer.display(outputs, "rgb"),
      "JPEG for the page": lambda: page.scene.set_background_image(image, format="jpeg",
                                                                   jpeg_quality=92),
      "matmul 2048³": lambda: mm().numpy(),
  }
  seconds = timing.interleaved(cases, FLAGS.repeats)
  matmul_rate = 2 * 2048 ** 3 / seconds.pop("matmul 2048³")
  flops = {"sampling network (posts)": network_flops(model.sampler) * b if model.sampler else 0,
           "integral networks at N + 1 posts": network_flops(model.phi) * b * 9}
  flops["render (unchecked)"] = sum(flops.values())
  ops = op_times(model, o.numpy(), d.numpy())
  return seconds, flops, matmul_rate, ops


def main(argv):
  del argv
  import viser  # pylint: disable=g-import-not-at-top
  page = viser.ViserServer(host="127.0.0.1", port=8099, verbose=False)  # (a busy port: the next)
  sizes = [int(s) for s in FLAGS.sizes]
  models = {}
  for preset in FLAGS.presets:
    models.update(renderers(preset))
  rows = []
  for size in sizes:
    fast = {k: frame_call(v, page, size) for k, (_, v) in models.items() if "AutoInt" in k}
    slow = {k: frame_call(v, page, size) for k, (_, v) in models.items() if "AutoInt" not in k}
    seconds = timing.interleaved(fast, FLAGS.repeats)
    for name, call in slow.items():  # the baseline: seconds a frame, one warm-up at 64²
      seconds[name] = float(np.median(timing.for_budget(call, FLAGS.baseline_seconds / 4,
                                                        min_calls=1)))
    for name, s in seconds.items():
      rows.append({"model": name, "size": size, "seconds": s, "fps": 1 / s})
      print(rows[-1], flush=True)
  lines = []
  for name in models:
    cells = [f"{r['fps']:.2f} ({1e3 * r['seconds']:.0f} ms)" for s in sizes
             for r in rows if r["model"] == name and r["size"] == s]
    lines.append([name] + cells)
  text = ("`python -m benchmarks.viewer` (the viewer's render path: rays, checked render_rays, "
          "image, JPEG; frames/s and ms a frame, medians):\n\n" +
          report.table(["model"] + [f"{s}²" for s in sizes], lines))
  parts = {}
  for preset in FLAGS.presets:
    model, vmodel = models[f"{preset} AutoInt N = 8"]
    seconds, flops, rate, ops = breakdown(model, vmodel, page)
    parts[preset] = {"seconds": seconds, "flops": flops, "matmul_gflops": rate / 1e9,
                     "ops": ops}
    frame = seconds["frame"]
    text += (f"\nWhere a {preset} AutoInt frame (N = 8, 100², {1e3 * frame:.0f} ms) goes; "
             f"fp32 matmul {rate / 1e9:.0f} GFLOP/s in the same run:\n\n" + report.table(
                 ["part", "ms", "share of the frame", "GFLOP/s", "of matmul rate"],
                 [[k, f"{1e3 * v:.1f}", f"{v / frame:.0%}",
                   f"{flops[k] / v / 1e9:.0f}" if k in flops else "",
                   f"{flops[k] / v / rate:.0%}" if k in flops else ""]
                  for k, v in seconds.items()]))
    traced = sum(ops.values())
    text += (f"\nThe same frame's render_rays graph by op (a traced run, {1e3 * traced:.0f} ms of "
             f"op time; the matmuls at {flops['render (unchecked)'] / ops['matmul'] / 1e9:.0f} "
             "GFLOP/s):\n\n" + report.table(
                 ["ops", "ms", "share"], [[k, f"{1e3 * v:.1f}", f"{v / traced:.0%}"]
                                         for k, v in ops.items()]))
  print(text)
  page.stop()
  if FLAGS.write:
    report.publish("viewer_fps", "Viewer frames per second", text, {"rows": rows, "parts": parts})


if __name__ == "__main__":
  app.run(main)
