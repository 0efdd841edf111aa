"""Image and signal quality: PSNR and SSIM, the one implementation every report uses, and the
segmentation score of HTC 2022 (Otsu's threshold or a disc support with holes below the
local level, the Matthews correlation coefficient).

Notation: pred, target: arrays of the same shape; data_range: the span of valid values (1 for
images in [0, 1]; max - min of the truth for sinograms and attenuation images).
  PSNR = 10 log10(data_range^2 / MSE).
  MCC = (TP TN - FP FN) / sqrt((TP + FP)(TP + FN)(TN + FP)(TN + FN))   (0 if a factor is 0)
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


def otsu_segmentation(image):
  """The image > Otsu's threshold (scikit-image), a bool array: HTC 2022's segmentation of a
  reconstruction into material and background."""
  from skimage.filters import threshold_otsu  # pylint: disable=g-import-not-at-top
  image = np.asarray(image, np.float64)
  if np.ptp(image) == 0:
    return np.zeros(image.shape, bool)
  return image > threshold_otsu(image)


def disc_segmentation(image, inside, closing_pixels, drop=0.3):
  """Material inside a known support, holes where the image drops below its local level: the
  segmentation of a disc-shaped phantom with holes (HTC 2022's) whose outline is known
  (tomography.fit_disc), robust to the smooth shading a limited-angle reconstruction leaves
  across the disc, which defeats one global threshold.

  The local level b is the grey closing of the image by a disc of `closing_pixels` radius
  (scikit-image), which fills every hole narrower than that disc; a pixel of the support is
  material unless (b - image) > drop * b. Pixels outside `inside` are background.

  Args:
    image: [H, W] reconstruction; inside: [H, W] bool, the support (the fitted disc).
  Returns:
    [H, W] bool segmentation (True = material).
  """
  from skimage import morphology  # pylint: disable=g-import-not-at-top
  image = np.asarray(image, np.float64)
  inside = np.asarray(inside, bool)
  if image.shape != inside.shape:
    raise ValueError(f"an image of shape {image.shape} and a support of {inside.shape}.")
  level = morphology.closing(image, morphology.disk(max(1, int(round(closing_pixels))),
                                                    decomposition="sequence"))
  return inside & ~(level - image > drop * np.maximum(level, 0.0))


def mcc(pred, target):
  """Matthews correlation coefficient of two bool arrays of one shape (notation above)."""
  pred, target = np.asarray(pred, bool), np.asarray(target, bool)
  if pred.shape != target.shape:
    raise ValueError(f"segmentations of shapes {pred.shape} and {target.shape}: score them on "
                     "one grid.")
  tp, tn = float(np.sum(pred & target)), float(np.sum(~pred & ~target))
  fp, fn = float(np.sum(pred & ~target)), float(np.sum(~pred & target))
  denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
  return float((tp * tn - fp * fn) / denominator) if denominator else 0.0


def upsample(mask, size):
  """A [S, S] array repeated to [size, size] (size a multiple of S): a coarser grid's
  segmentation on the finer grid of the same region."""
  factor = size // mask.shape[0]
  if factor * mask.shape[0] != size:
    raise ValueError(f"a {mask.shape[0]}-pixel segmentation on a {size}-pixel grid: the "
                     "grid's side must be a multiple of the image's.")
  return np.kron(mask, np.ones((factor, factor), mask.dtype))


def read_segmentation(path, image_size, flag):
  """A 1-bit (or 0/255) PNG segmentation as a bool array, checked against the image grid."""
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  try:
    array = np.asarray(iio.imread(path))
  except Exception as e:  # pylint: disable=broad-except  (every reader error of a bad file)
    raise ValueError(f"{flag}={path}: not a readable image ({type(e).__name__}: {e}).") from None
  if array.ndim == 3:
    array = array[..., 0]
  values = np.unique(array)
  if array.ndim != 2 or array.shape[0] != array.shape[1] or len(values) > 2:
    raise ValueError(f"{flag}={path}: expected a square two-valued segmentation (1 = "
                     f"material), got shape {array.shape} with {len(values)} values.")
  if array.shape[0] % image_size:
    raise ValueError(f"{flag}={path} is {array.shape[0]}² but the image grid has "
                     f"{image_size}² pixels; give --config.image_size dividing "
                     f"{array.shape[0]} (the same region in coarser pixels).")
  return array > values.min() if len(values) == 2 else np.zeros(array.shape, bool)
