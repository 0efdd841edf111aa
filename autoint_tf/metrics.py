"""Image and signal quality: PSNR and SSIM, the one implementation every report uses.

Notation: pred, target: arrays of the same shape; data_range: the span of valid values (1 for
images in [0, 1]; max - min of the truth for sinograms and attenuation images).
  PSNR = 10 log10(data_range^2 / MSE).
"""

import numpy as np
import tensorflow as tf


def psnr(pred, target, data_range=1.0):
  """PSNR in dB of `pred` against `target` (any equal shapes), MSE over every element."""
  return psnr_from_mse(
      np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64))**2), data_range)


def ssim(pred, target, data_range=1.0):
  """Mean SSIM (tf.image.ssim) of images [H, W], [H, W, C] or [V, H, W, C]; the Gaussian
  filter shrinks to fit images smaller than 11 pixels."""
  pred, target = np.asarray(pred, np.float32), np.asarray(target, np.float32)
  if pred.ndim == 2:
    pred, target = pred[..., None], target[..., None]
  size = min(11, *pred.shape[-3:-1])
  return float(tf.reduce_mean(tf.image.ssim(tf.constant(pred), tf.constant(target), data_range,
                                            filter_size=size)))


def view_metrics(pred, target):
  """(mean PSNR over views, mean SSIM) of renders [V, H, W, 3] against views in [0, 1]
  (predictions clipped to [0, 1] first, as an image would be shown)."""
  pred = np.clip(pred, 0, 1)
  return (float(np.mean([psnr(p, t) for p, t in zip(pred, target)])), ssim(pred, target))


def psnr_from_mse(mse, data_range=1.0):
  """PSNR of a mean squared error (e.g. a training loss)."""
  return float(10 * np.log10(data_range**2 / max(float(mse), 1e-20)))
