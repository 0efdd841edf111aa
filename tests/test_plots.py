"""Tests of autoint_tf.plots: every figure writes a readable image of the expected kind."""

import imageio.v3 as iio
import numpy as np

from autoint_tf import plots
from autoint_tf import scenes


def test_figures_and_animations_are_written(tmp_path):
  x = np.linspace(0, 1, 50)
  plots.integrand_1d(x, x, x, x**2 / 2, x**2 / 2 + 3, (x[:5], x[:5]), "t", tmp_path / "a.png")
  plots.images_side_by_side([np.eye(4)] * 3, "abc", [0, 1, 0, 1], str(tmp_path / "b.png"))
  truth = np.random.default_rng(0).uniform(size=(8, 6))
  out = {"truth": truth, "prediction": truth, "interpolation": truth, "kept": np.arange(0, 8, 2),
         "image": np.eye(6), "fbp_image": np.eye(6), "point_image": None}
  plots.ct_report(out, {"psnr_heldout_autoint": 1.0, "psnr_heldout_interpolation": 2.0},
                  str(tmp_path / "c.png"))
  measured = {**out, "image": None, "sirt_image": 5 * np.eye(6), "point_image": np.eye(6),
              "point_image_std": np.eye(6)}  # a measured scan: no phantom, images to scale
  plots.ct_report(measured, {"psnr_heldout_autoint": 1.0, "psnr_heldout_interpolation": 2.0},
                  str(tmp_path / "j.png"))
  plots.ct_activations({"truth": truth, "ray_swish_4": truth, "point_sine_8": truth},
                       str(tmp_path / "d.png"))
  # A run with other settings gets no row of its own (the figure compares activations).
  plots.ct_activations({"truth": truth, "ray_swish_4": truth, "point_sine_8": truth,
                        "point+width256_sine_8": truth}, str(tmp_path / "k.png"))
  assert iio.imread(tmp_path / "k.png").shape == iio.imread(tmp_path / "d.png").shape
  views = scenes.Views(np.zeros((2, 5, 5, 3), np.float32), np.tile(np.eye(4), (2, 1, 1)), 5.0,
                       1.0, 2.0)
  render = {"rgb": np.ones((2, 5, 5, 3)), "depth": np.ones((2, 5, 5)),
            "opacity": np.ones((2, 5, 5))}
  plots.test_views(render, views, str(tmp_path / "e.png"))
  plots.compare_views([("a", render["rgb"]), ("b", render["rgb"] * 0)], views,
                      str(tmp_path / "h.png"))
  plots.training_curves({"a": [(1, 0.5, 10.0), (2, 1.0, 12.0)], "b": []},
                        str(tmp_path / "i.png"))
  for name in "abcdehij":
    image = iio.imread(tmp_path / f"{name}.png")
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
  frames = np.linspace(0, 1, 3)[:, None, None, None] * np.ones((3, 4, 5, 3))
  plots.save_gif(frames, str(tmp_path / "f.gif"))
  gif = iio.imread(tmp_path / "f.gif", index=None)
  assert gif.shape[:3] == (3, 4, 5)
  plots.save_png(frames[-1], str(tmp_path / "g.png"))
  assert np.all(iio.imread(tmp_path / "g.png") == 255)
