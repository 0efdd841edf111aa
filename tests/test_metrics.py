"""Tests of autoint_tf.metrics against closed forms."""

import numpy as np
import pytest

from autoint_tf import metrics


def test_psnr_is_the_closed_form_of_the_mse():
  target = np.zeros((4, 5))
  pred = np.full((4, 5), 0.1)  # MSE 0.01
  assert metrics.psnr(pred, target) == pytest.approx(20.0)
  assert metrics.psnr(pred, target, data_range=2.0) == pytest.approx(20.0 + 20 * np.log10(2))
  assert metrics.psnr_from_mse(0.01) == pytest.approx(20.0)
  assert metrics.psnr(target, target) == pytest.approx(200.0)  # capped, not inf


def test_ssim_is_one_for_equal_images_and_lower_for_noise():
  rng = np.random.default_rng(0)
  image = rng.uniform(size=(16, 16))
  assert metrics.ssim(image, image) == pytest.approx(1.0, abs=1e-6)
  noisy = np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1)
  assert metrics.ssim(noisy, image) < 0.9
  # Views [V, H, W, 3] and images smaller than the 11-pixel filter.
  views = rng.uniform(size=(2, 6, 7, 3))
  assert metrics.ssim(views, views) == pytest.approx(1.0, abs=1e-6)


def test_view_metrics_average_per_view_psnr_and_clip_predictions():
  target = np.zeros((2, 4, 4, 3))
  pred = np.stack([np.full((4, 4, 3), 0.1), np.full((4, 4, 3), 0.01)])
  psnr, _ = metrics.view_metrics(pred, target)
  assert psnr == pytest.approx((20.0 + 40.0) / 2)
  over = np.full((1, 4, 4, 3), 5.0)  # shown as 1.0: MSE 1 against 0
  assert metrics.view_metrics(over, target[:1])[0] == pytest.approx(0.0)


def test_mcc_is_its_closed_form_and_otsu_splits_two_modes():
  # TP 3, TN 4, FP 1, FN 2: (3 * 4 - 1 * 2) / sqrt(4 * 5 * 5 * 6).
  target = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
  pred = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
  assert metrics.mcc(pred, target) == pytest.approx(10 / np.sqrt(600))
  assert metrics.mcc(target, target) == 1.0 and metrics.mcc(~target, target) == -1.0
  assert metrics.mcc(np.zeros(10, bool), target) == 0.0  # a factor is 0: defined as 0
  image = np.concatenate([np.full(50, 0.1), np.full(30, 0.9)]) + np.linspace(0, 0.05, 80)
  np.testing.assert_array_equal(metrics.otsu_segmentation(image), np.arange(80) >= 50)
  np.testing.assert_array_equal(metrics.upsample(np.eye(2, dtype=bool), 4),
                                np.kron(np.eye(2), np.ones((2, 2))).astype(bool))
  with pytest.raises(ValueError, match="multiple of the image's"):
    metrics.upsample(np.eye(3, dtype=bool), 4)


def test_disc_segmentation_finds_holes_under_shading_one_threshold_cannot_split():
  n = 96
  y, x = np.mgrid[0:n, 0:n] + 0.5 - n / 2
  inside = x**2 + y**2 < (0.4 * n)**2
  holes = ((x - 10)**2 + (y + 8)**2 < 5**2) | ((np.abs(x + 12) < 3) & (np.abs(y - 6) < 9))
  truth = inside & ~holes
  # A limited-angle image's shading: the disc's level ramps from 0.25 to 1.75 across it; the
  # holes keep half the local level, brighter than the material on the dark side. No single
  # threshold splits that.
  level = 1.0 + 1.5 * x / (0.8 * n)
  image = np.where(truth, level, np.where(inside, 0.5 * level, 0.0))
  segmented = metrics.disc_segmentation(image, inside, closing_pixels=12)
  np.testing.assert_array_equal(segmented, truth)
  assert metrics.mcc(metrics.otsu_segmentation(image), truth) < 0.9
  # outside the support nothing is material, whatever the image holds there
  assert not metrics.disc_segmentation(image + 5.0 * ~inside, inside, 12)[~inside].any()
  with pytest.raises(ValueError, match="support of"):
    metrics.disc_segmentation(image, inside[:-1], 12)
