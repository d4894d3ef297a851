"""The model zoo: Keras (``tf_keras``) definitions of the classic CNN architectures, one file per
family, shared blocks in ``blocks``, one registry. Installed as ``deploytool.models``.

>>> from deploytool.models import create_model, list_models
>>> model = create_model("resnet18", input_shape=(28, 28, 1), num_classes=10, width=0.25)
"""

from deploytool.models import (alexnet, densenet, googlenet, lenet,  # noqa: F401 - each registers
                               mobilenet, nin, regnet, resnet, resnext, senet, vgg)
from deploytool.models.registry import (ModelSpec, UnknownModelError, create_model, get_spec,
                                        list_models)

__all__ = ["ModelSpec", "UnknownModelError", "create_model", "get_spec", "list_models"]
