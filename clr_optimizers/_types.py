"""Type aliases of the public signatures."""

from collections.abc import Callable
from typing import Any

TensorLike = Any
"""A Python number, a NumPy value, a backend tensor or a Keras variable."""

ScaleFn = Callable[[Any], Any]
"""A custom amplitude scale: a function of one float tensor, in `keras.ops`."""
