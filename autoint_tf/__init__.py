"""autoint-tf: AutoInt (automatic integration, Lindell et al., CVPR 2021) in TensorFlow/Keras 3.

An *integral network* Phi(t, c) is any Keras layer or model; its *grad network* dPhi/dt
(`GradNetwork`) shares every weight with it and is what gets trained on samples of an
integrand f. Definite integrals then cost two evaluations of Phi (`definite_integral`),
box integrals over d variables 2**d evaluations.
"""

from autoint_tf.fields import ACTIVATIONS
from autoint_tf.fields import IntegralMLP
from autoint_tf.fields import MLP
from autoint_tf.fields import PositionalEncoding
from autoint_tf.grad_net import GradNetwork
from autoint_tf.grad_net import definite_integral

__all__ = [
    "ACTIVATIONS",
    "GradNetwork",
    "IntegralMLP",
    "MLP",
    "PositionalEncoding",
    "definite_integral",
]

__version__ = "0.1.0"
