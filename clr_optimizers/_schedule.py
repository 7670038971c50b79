"""The cyclical policies as a Keras `LearningRateSchedule`."""

import keras

from clr_optimizers._config import check_gamma
from clr_optimizers._config import check_rate
from clr_optimizers._config import check_step_size
from clr_optimizers._policy import check_mode
from clr_optimizers._policy import cyclical_learning_rate


@keras.saving.register_keras_serializable(package="clr_optimizers")
class CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A `LearningRateSchedule` that cycles between `base_lr` and `max_lr`.

    The same formula as the optimizers' `clr` dict (see
    `clr_optimizers.cyclical_learning_rate`), as a schedule of the
    optimizer's `iterations`, for any Keras optimizer:

    ```
    cycle = floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    rate = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale
    ```

    Unlike the optimizers' variables, the settings of a schedule are fixed
    at construction, and its position is the optimizer's `iterations`.

    Args:
        base_lr: The bottom of the cycle, a finite number >= 0.
        max_lr: The peak of the cycle, a finite number >= 0.
        step_size: Half a cycle, in steps; a whole number > 0.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: The `"exp_range"` amplitude factor per step, in (0, 1].
            Defaults to `1.0`.
        name: Optional name. Defaults to `"CyclicalLearningRate"`.

    Example:

    >>> schedule = clr_optimizers.CyclicalLearningRate(
    ...     base_lr=0.001, max_lr=0.006, step_size=2000, mode="triangular2"
    ... )
    >>> opt = keras.optimizers.Adam(learning_rate=schedule)
    """

    def __init__(
        self,
        base_lr,
        max_lr,
        step_size,
        mode="triangular",
        gamma=1.0,
        name="CyclicalLearningRate",
    ):
        super().__init__()
        self.base_lr = check_rate(base_lr, "base_lr")
        self.max_lr = check_rate(max_lr, "max_lr")
        self.step_size = check_step_size(step_size)
        self.mode = check_mode(mode)
        self.gamma = check_gamma(gamma, mode, "gamma")
        self.name = name

    def __call__(self, step):
        return cyclical_learning_rate(
            step,
            self.base_lr,
            self.max_lr,
            self.step_size,
            mode=self.mode,
            gamma=self.gamma,
        )

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
            "name": self.name,
        }
