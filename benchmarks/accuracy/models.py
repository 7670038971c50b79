"""The benchmark's models, their initial weights drawn from a seed."""

import keras


class _Seeded:
    """Initializers seeded from (seed, layer): the same weights per seed."""

    def __init__(self, seed):
        """Initializers for the layers of a model of seed `seed`."""
        self.seed = seed
        self.layer = 0

    def _next(self):
        """The next layer's initializer seed (None when unseeded)."""
        self.layer += 1
        return None if self.seed is None else 8 * self.seed + self.layer - 1

    def glorot(self):
        """Keras's default kernel initializer."""
        return keras.initializers.GlorotUniform(seed=self._next())

    def orthogonal(self):
        """Keras's default recurrent initializer."""
        return keras.initializers.Orthogonal(seed=self._next())


def _dense(units, init, activation="relu", use_bias=True):
    """A Dense layer, its kernel seeded from the seed and the layer."""
    return keras.layers.Dense(
        units,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=init.glorot(),
    )


def _cnn(shape, outputs, init):
    """MNIST-1D's authors' CNN: three strided Conv1D of 25 filters."""
    conv = {"strides": 2, "padding": "same", "activation": "relu"}
    return [
        keras.Input(shape),
        keras.layers.Conv1D(25, 5, kernel_initializer=init.glorot(), **conv),
        keras.layers.Conv1D(25, 3, kernel_initializer=init.glorot(), **conv),
        keras.layers.Conv1D(25, 3, kernel_initializer=init.glorot(), **conv),
        keras.layers.Flatten(),
        _dense(outputs, init, None),
    ]


def _mlp(shape, outputs, init):
    """Dense 128 ReLU (the digits MLP)."""
    return [
        keras.Input(shape),
        keras.layers.Flatten(),
        _dense(128, init),
        _dense(outputs, init, None),
    ]


def _deep_mlp(shape, outputs, init):
    """Three Dense 64 ReLU."""
    return [
        keras.Input(shape),
        keras.layers.Flatten(),
        _dense(64, init),
        _dense(64, init),
        _dense(64, init),
        _dense(outputs, init, None),
    ]


def _wide_mlp(shape, outputs, init):
    """Dense 256 ReLU, then Dense 64 ReLU."""
    return [
        keras.Input(shape),
        _dense(256, init),
        _dense(64, init),
        _dense(outputs, init, None),
    ]


def _narrow_mlp(shape, outputs, init):
    """Two Dense 64 ReLU."""
    return [
        keras.Input(shape),
        _dense(64, init),
        _dense(64, init),
        _dense(outputs, init, None),
    ]


def _cnn2d(shape, outputs, init):
    """Two Conv2D (16, then 32 filters of 3x3), each max-pooled by 2."""
    conv = {"padding": "same", "activation": "relu"}
    return [
        keras.Input(shape),
        keras.layers.Conv2D(16, 3, kernel_initializer=init.glorot(), **conv),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, kernel_initializer=init.glorot(), **conv),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        _dense(outputs, init, None),
    ]


def _bn_mlp(shape, outputs, init):
    """Two Dense 128 without bias, each batch-normalized before its ReLU."""
    return [
        keras.Input(shape),
        _dense(128, init, None, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        _dense(128, init, None, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        _dense(outputs, init, None),
    ]


def _gru(shape, outputs, init):
    """A GRU of 32 units over the sequence, then Dense."""
    return [
        keras.Input(shape),
        keras.layers.GRU(
            32,
            kernel_initializer=init.glorot(),
            recurrent_initializer=init.orthogonal(),
        ),
        _dense(outputs, init, None),
    ]


MODELS = {
    "cnn": _cnn,
    "mlp": _mlp,
    "deep_mlp": _deep_mlp,
    "wide_mlp": _wide_mlp,
    "gru": _gru,
    "narrow_mlp": _narrow_mlp,
    "cnn2d": _cnn2d,
    "bn_mlp": _bn_mlp,
}


def build_model(model, shape, outputs, seed=None):
    """A model of kind `model`, its weights drawn from `seed`.

    Args:
        model: A key of `MODELS`.
        shape: One input's shape.
        outputs: The number of outputs: a classifier's logits, or 1 for a
            regression.
        seed: Seeds each layer's initializers (the biases start at 0, batch
            normalization at its identity); None: unseeded.

    Returns:
        A `keras.Sequential` with `outputs` linear outputs.
    """
    if model not in MODELS:
        allowed = ", ".join(repr(m) for m in MODELS)
        raise ValueError(
            f"`model` must be one of {allowed}. Received: model={model!r}"
        )
    return keras.Sequential(MODELS[model](shape, outputs, _Seeded(seed)))
