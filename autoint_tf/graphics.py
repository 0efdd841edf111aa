"""The tensorflow-graphics modules autoint_tf uses, imported in one place.

tensorflow-graphics cannot be a dependency of the package: its own hard dependencies include
tensorflow-addons, which breaks Keras 3, and none of them is needed by the modules used here.
It is installed on its own, without them (`make setup` does):

  pip install --no-deps tensorflow-graphics==2021.12.3
"""

INSTALL = "pip install --no-deps tensorflow-graphics==2021.12.3"

try:
  from tensorflow_graphics.rendering.camera import perspective  # pylint: disable=unused-import
  from tensorflow_graphics.rendering.volumetric import ray_radiance  # pylint: disable=unused-import
except ImportError as e:
  raise ImportError(
      f"autoint_tf needs tensorflow-graphics ({e}). It is installed without its dependencies "
      f"(they include tensorflow-addons, which breaks Keras 3): {INSTALL}") from e
