"""The benchmark's models, their initial weights drawn from a seed."""

import keras


class _Seeded:
    """Initializers seeded from (seed, layer): the same weights per seed."""

    def __init__(self, seed):
        self.seed = seed
        self.layer = 0

    def _next(self):
        self.layer += 1
        return None if self.seed is None else 8 * self.seed + self.layer - 1

    def glorot(self):
        """Keras's default kernel initializer."""
        return keras.initializers.GlorotUniform(seed=self._next())

    def orthogonal(self):
        """Keras's default recurrent initializer."""
        return keras.initializers.Orthogonal(seed=self._next())


def _dense(units, init, activation="relu"):
    return keras.layers.Dense(
        units, activation=activation, kernel_initializer=init.glorot()
    )


def _cnn(shape, classes, init):
    """MNIST-1D's authors' CNN: three strided Conv1D of 25 filters."""
    conv = {"strides": 2, "padding": "same", "activation": "relu"}
    return [
        keras.Input(shape),
        keras.layers.Conv1D(25, 5, kernel_initializer=init.glorot(), **conv),
        keras.layers.Conv1D(25, 3, kernel_initializer=init.glorot(), **conv),
        keras.layers.Conv1D(25, 3, kernel_initializer=init.glorot(), **conv),
        keras.layers.Flatten(),
        _dense(classes, init, None),
    ]


def _mlp(shape, classes, init):
    """Dense 128 ReLU (the digits MLP)."""
    return [
        keras.Input(shape),
        keras.layers.Flatten(),
        _dense(128, init),
        _dense(classes, init, None),
    ]


def _deep_mlp(shape, classes, init):
    """Three Dense 64 ReLU."""
    return [
        keras.Input(shape),
        keras.layers.Flatten(),
        _dense(64, init),
        _dense(64, init),
        _dense(64, init),
        _dense(classes, init, None),
    ]


def _wide_mlp(shape, classes, init):
    """Dense 256 ReLU, then Dense 64 ReLU."""
    return [
        keras.Input(shape),
        _dense(256, init),
        _dense(64, init),
        _dense(classes, init, None),
    ]


def _gru(shape, classes, init):
    """A GRU of 32 units over the sequence, then Dense."""
    return [
        keras.Input(shape),
        keras.layers.GRU(
            32,
            kernel_initializer=init.glorot(),
            recurrent_initializer=init.orthogonal(),
        ),
        _dense(classes, init, None),
    ]


MODELS = {
    "cnn": _cnn,
    "mlp": _mlp,
    "deep_mlp": _deep_mlp,
    "wide_mlp": _wide_mlp,
    "gru": _gru,
}


def build_model(model, shape, classes, seed=None):
    """A model of kind `model`, its weights drawn from `seed`.

    Args:
        model: A key of `MODELS`.
        shape: One input's shape.
        classes: The number of logits.
        seed: Seeds each layer's initializers (the biases start at 0);
            None: unseeded.

    Returns:
        A `keras.Sequential` that outputs `classes` logits.
    """
    return keras.Sequential(MODELS[model](shape, classes, _Seeded(seed)))
