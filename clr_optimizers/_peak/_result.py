"""`FindMaxLRResult`: the peak `find_max_lr` chose, and how."""

import os
from typing import Any

from clr_optimizers._callbacks._one_cycle import OneCycle
from clr_optimizers._peak._trials import Trial
from clr_optimizers._plotting import plot_max_lr_search
from clr_optimizers._range_test._result import LRRangeTestResult


class FindMaxLRResult:
    """What `find_max_lr` tried, and the 1cycle peak it chose.

    Attributes:
        max_lr: The chosen peak rate of a 1cycle of `run_updates` updates:
            the best second-rung trial's peak times `horizon_factor`.
        base_lr: The rate the 1cycle starts from, `max_lr / div_factor`
            with `OneCycle`'s default `div_factor` (25).
        trials: The trials, in the order they ran, each a `Trial` with its
            `rate`, `updates`, `score`, `rung` and `diverged`.
        best_trial_rate: The peak of the best second-rung trial.
        horizon_factor: What `best_trial_rate` was scaled by for the run:
            `(L2 / run_updates) ** 0.3`, `L2` the second rung's length.
        cost: The updates spent in all: the range test's and the trials'.
        run_updates: The updates of the run the peak is for (`epochs`
            times the batches of an epoch, over the gradient accumulation).
        range_test: The `LRRangeTestResult` that placed the candidates.
        monitor: The validation value that scored the trials.
        mode: `"min"` or `"max"`: whether a lower or a higher score is
            better.
    """

    def __init__(
        self,
        *,
        best_trial_rate: float,
        horizon_factor: float,
        div_factor: float,
        trials: list[Trial],
        cost: int,
        run_updates: int,
        range_test: LRRangeTestResult,
        monitor: str,
        mode: str,
    ) -> None:
        self.best_trial_rate = float(best_trial_rate)
        self.horizon_factor = float(horizon_factor)
        self.max_lr = self.best_trial_rate * self.horizon_factor
        self.base_lr = self.max_lr / div_factor
        self.trials = list(trials)
        self.cost = int(cost)
        self.run_updates = int(run_updates)
        self.range_test = range_test
        self.monitor = monitor
        self.mode = mode

    def __repr__(self) -> str:
        return (
            f"FindMaxLRResult(max_lr={self.max_lr:.4g}, "
            f"base_lr={self.base_lr:.4g}, trials={len(self.trials)}, "
            f"cost={self.cost}, run_updates={self.run_updates})"
        )

    def one_cycle(self, **kwargs: Any) -> OneCycle:
        """A `OneCycle` callback at the chosen peak, for the run.

        Args:
            **kwargs: Any other argument of `OneCycle` (its defaults are
                the policy the trials ran).

        Returns:
            `OneCycle(max_lr=self.max_lr, **kwargs)`.
        """
        return OneCycle(max_lr=self.max_lr, **kwargs)

    def plot(self, path: str | os.PathLike[str] | None = None) -> Any:
        """Draws each trial's score against its peak, and the choice.

        Needs matplotlib (`pip install 'clr_optimizers[plot]'`).

        Args:
            path: Where to save the figure (any format matplotlib writes),
                or None.

        Returns:
            The `matplotlib.figure.Figure`.
        """
        return plot_max_lr_search(self, path)
