"""The cyclical policies as a Keras `LearningRateSchedule`."""

from typing import Any

import keras
from keras import ops

from clr_optimizers._policy._cyclical import cyclical_learning_rate
from clr_optimizers._policy._ops import TensorOps
from clr_optimizers._policy._warmup import linear_warmup
from clr_optimizers._serialization import deserialize_scale_fn
from clr_optimizers._serialization import serialize_scale_fn
from clr_optimizers._types import ScaleFn
from clr_optimizers._types import TensorLike
from clr_optimizers._validation import check_choice
from clr_optimizers._validation import check_gamma
from clr_optimizers._validation import check_mode
from clr_optimizers._validation import check_rate
from clr_optimizers._validation import check_scale_fn
from clr_optimizers._validation import check_step_size
from clr_optimizers._validation import check_whole_count


@keras.saving.register_keras_serializable(package="clr_optimizers")
class CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A `LearningRateSchedule` that cycles between `base_lr` and `max_lr`.

    The formula of `clr_optimizers.cyclical_learning_rate` (the same as the
    optimizers' `clr` dict), as a schedule of the optimizer's `iterations`,
    for any Keras optimizer.

    Unlike the optimizers' variables, the settings of a schedule are fixed
    at construction, and its position is the optimizer's `iterations`.

    With a warm-up of `b = warmup_steps` updates, as the optimizers'
    `"warmup_steps"` key, update `n < b` applies
    `warmup_start_lr + (base_lr - warmup_start_lr) * n / b`, and update
    `n >= b` the cycle's rate at position `n - b`: the cycle starts at its
    bottom, `base_lr`, when the warm-up ends.

    Args:
        base_lr: The bottom of the cycle, a finite number >= 0.
        max_lr: The peak of the cycle, a finite number >= 0.
        step_size: Half a cycle, in steps; a whole number > 0.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: The `"exp_range"` amplitude factor per step, in (0, 1].
            Defaults to `1.0`.
        name: Optional name. Defaults to `"CyclicalLearningRate"`.
        step_size_down: Steps from the peak back to the bottom (an
            asymmetric cycle, as PyTorch's `CyclicLR`). Defaults to
            `step_size`.
        scale_fn: A custom amplitude scale written with `keras.ops`, in
            place of `mode`; register it to save the schedule. Defaults to
            None.
        scale_mode: `"cycle"` (`scale_fn` receives the cycle number, from 1)
            or `"iterations"` (the step). Defaults to `"cycle"`.
        warmup_steps: The length of a linear warm-up before the cycle, in
            steps; a whole number >= 0. Defaults to `0` (none).
        warmup_start_lr: The warm-up's first rate, a finite number >= 0;
            only with `warmup_steps` > 0. Defaults to `0.0`.

    Examples:
        >>> import keras
        >>> import clr_optimizers
        >>> schedule = clr_optimizers.CyclicalLearningRate(
        ...     base_lr=0.001, max_lr=0.006, step_size=2000, mode="triangular2"
        ... )
        >>> opt = keras.optimizers.Adam(learning_rate=schedule)

        A warm-up of 4 steps from 0, then the cycle:

        >>> schedule = clr_optimizers.CyclicalLearningRate(
        ...     base_lr=0.001, max_lr=0.006, step_size=2000, warmup_steps=4
        ... )
        >>> [round(float(schedule(step)), 6) for step in (0, 2, 4, 1004)]
        [0.0, 0.0005, 0.001, 0.0035]
    """

    def __init__(
        self,
        base_lr: float,
        max_lr: float,
        step_size: int,
        mode: str = "triangular",
        gamma: float = 1.0,
        name: str = "CyclicalLearningRate",
        step_size_down: int | None = None,
        scale_fn: ScaleFn | None = None,
        scale_mode: str = "cycle",
        warmup_steps: int = 0,
        warmup_start_lr: float = 0.0,
    ) -> None:
        super().__init__()
        self.base_lr = check_rate(base_lr, "base_lr")
        self.max_lr = check_rate(max_lr, "max_lr")
        self.step_size = check_step_size(step_size)
        self.step_size_down = None
        if step_size_down is not None:
            self.step_size_down = check_step_size(
                step_size_down, "step_size_down"
            )
        self.mode = check_mode(mode)
        self.scale_fn = None
        self.scale_mode = "cycle"
        if scale_fn is None:
            self.gamma = check_gamma(gamma, mode, "gamma")
            if scale_mode != "cycle":
                raise ValueError(
                    "`scale_mode` applies only with a `scale_fn`. "
                    f"Received: scale_mode={scale_mode!r}"
                )
        else:
            if mode != "triangular":
                raise ValueError(
                    "`scale_fn` replaces `mode`: give one of them. "
                    f"Received: mode={mode!r}, scale_fn={scale_fn!r}"
                )
            self.gamma = check_gamma(gamma, None, "gamma")
            self.scale_fn = check_scale_fn(scale_fn, "scale_fn")
            self.scale_mode = check_choice(
                scale_mode, "scale_mode", ("cycle", "iterations")
            )
        self.warmup_steps = check_whole_count(warmup_steps, "warmup_steps")
        self.warmup_start_lr = check_rate(warmup_start_lr, "warmup_start_lr")
        if not self.warmup_steps and self.warmup_start_lr:
            raise ValueError(
                "`warmup_start_lr` applies only with `warmup_steps` > 0. "
                f"Received: warmup_start_lr={warmup_start_lr!r}, "
                f"warmup_steps={warmup_steps!r}"
            )
        self.name = name

    def __call__(self, step: TensorLike) -> TensorLike:
        if not self.warmup_steps:
            return self._cycle(step)
        # As the optimizers' `clr` dict (`_policy._clr_dict`): the warm-up's
        # rate before step b, the cycle at position n - b from it on.
        xp = TensorOps()
        n = xp.integer(step)
        warming_up, warmup_rate = linear_warmup(
            xp, n, self.base_lr, self.warmup_steps, self.warmup_start_lr
        )
        # `where`, not `maximum`: Keras's PyTorch `maximum` of int64 tensors
        # is int32, which wraps past 2**31.
        position = ops.where(
            warming_up, ops.zeros_like(n), n - self.warmup_steps
        )
        rate = self._cycle(position)
        return ops.where(warming_up, ops.cast(warmup_rate, rate.dtype), rate)

    def _cycle(self, step):
        return cyclical_learning_rate(
            step,
            self.base_lr,
            self.max_lr,
            self.step_size,
            mode=self.mode,
            gamma=self.gamma,
            step_size_down=self.step_size_down,
            scale_fn=self.scale_fn,
            scale_mode=self.scale_mode,
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
            "name": self.name,
        }
        if self.step_size_down is not None:
            config["step_size_down"] = self.step_size_down
        if self.scale_fn is not None:
            config["scale_fn"] = serialize_scale_fn(self.scale_fn)
            config["scale_mode"] = self.scale_mode
        if self.warmup_steps:
            config["warmup_steps"] = self.warmup_steps
            config["warmup_start_lr"] = self.warmup_start_lr
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "CyclicalLearningRate":
        if isinstance(config.get("scale_fn"), dict):
            scale_fn = deserialize_scale_fn(config["scale_fn"])
            config = {**config, "scale_fn": scale_fn}
        return cls(**config)
