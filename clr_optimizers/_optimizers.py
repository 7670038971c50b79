"""Every concrete Keras optimizer, with a cyclical learning rate.

Each class is a subclass of the Keras class of the same name, made by
`with_clr`: same constructor, plus `clr`, `decay` and `lr`.
"""

import keras

from clr_optimizers._mixin import with_clr

Adadelta = with_clr(keras.optimizers.Adadelta)
Adafactor = with_clr(keras.optimizers.Adafactor)
Adagrad = with_clr(keras.optimizers.Adagrad)
Adam = with_clr(keras.optimizers.Adam)
AdamW = with_clr(keras.optimizers.AdamW)
Adamax = with_clr(keras.optimizers.Adamax)
Ftrl = with_clr(keras.optimizers.Ftrl)
Lamb = with_clr(keras.optimizers.Lamb)
Lion = with_clr(keras.optimizers.Lion)
Muon = with_clr(keras.optimizers.Muon)
Nadam = with_clr(keras.optimizers.Nadam)
RMSprop = with_clr(keras.optimizers.RMSprop)
SGD = with_clr(keras.optimizers.SGD)
ScheduleFreeAdamW = with_clr(keras.optimizers.ScheduleFreeAdamW)

OPTIMIZERS = (
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    AdamW,
    Adamax,
    Ftrl,
    Lamb,
    Lion,
    Muon,
    Nadam,
    RMSprop,
    SGD,
    ScheduleFreeAdamW,
)
