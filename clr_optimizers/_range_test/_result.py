"""`LRRangeTestResult`: what the range test measured, and its suggestions."""

import copy
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from clr_optimizers._plotting import plot_range_test
from clr_optimizers._range_test import _rules
from clr_optimizers._validation import check_suggestion_rule

Rule = str | Callable[..., Any]
"""A suggestion rule: the name of a built-in one, or a function of the
curves returning `(base_lr, max_lr)`."""


class LRRangeTestResult:
    """What `lr_range_test` measured, with the bounds it suggests.

    Attributes:
        learning_rates: float64 NumPy array, the rate of each step (as the
            optimizer applied it, in its float dtype).
        losses: float64 NumPy array, the smoothed training loss after each
            step: a moving average `avg = beta * avg + (1 - beta) * loss`
            started at 0 and bias-corrected, `avg / (1 - beta**k)` after `k`
            steps, so the first values are not pulled towards 0.
        raw_losses: float64 NumPy array, the loss of each step before
            smoothing: the training loss of the next batch (of the next
            update's batches, with gradient accumulation), computed with
            the weights just updated at `learning_rates[i]`.
        accuracies: float64 NumPy array, the smoothed accuracy (the same
            average), or None when the model tracks no accuracy metric.
        raw_accuracies: float64 NumPy array, the accuracy before smoothing,
            or None.
        accuracy_name: The name of the accuracy metric in the logs, or None.
        min_loss_lr: The rate at which the smoothed loss is lowest.
        suggestions: dict of each rule's `(base_lr, max_lr)` pair, for the
            rules `"minimum"`, `"minimum_third"`, `"valley"`,
            `"steepest"` and `"accuracy"`
            (see below); a pair of NaN where a rule finds nothing (the
            `"accuracy"` rule without an accuracy metric).
        suggested_max_lr: `max_lr` of the default rule, `DEFAULT_RULE`
            (`"minimum_third"`).
        suggested_base_lr: `base_lr` of the default rule.
        validation: True when the losses and accuracies are those of the
            held-out data given as `validation_data` (a fixed batch, or
            the first `validation_steps` batches of a dataset).
        diverged: True when the test stopped early because the smoothed loss
            rose above `divergence_factor` times its lowest value, or was
            not finite.
        sweep: `"linear"` or `"exponential"`.

    The rules (each a closed-form function in
    `clr_optimizers._range_test._rules`; the curves are first cut at the
    first non-finite loss, then the first tenth of the points and the last
    five are skipped):

    - `"minimum"` (fastai): `max_lr` is a tenth of the rate at the
      smoothed loss' minimum. The loss is lowest just before training
      diverges, so the minimum itself overestimates the largest stable
      rate.
    - `"minimum_third"` (the default): a third of that rate, for 1cycle,
      whose warm-up and annealing take a peak above the best constant rate
      (Smith & Topin 2017).
    - `"valley"` (fastai's default): the middle of the longest falling
      stretch of the smoothed loss.
    - `"steepest"` (Lightning, torch-lr-finder, fastai's `steep`): the
      steepest fall of the smoothed loss against log rate.
    - `"accuracy"` (Smith 2017, section 3.3): `base_lr` where the smoothed
      accuracy has made a tenth of its rise, `max_lr` where it has made
      nine tenths (where it stops rising).

    The first four give one rate, `max_lr`, and `base_lr` is a quarter of
    it (the paper: a third or a quarter). The default rule,
    `"minimum_third"`, is the one that measured best, and never diverged,
    in the accuracy benchmark's rule study on its development tasks
    (docs/benchmark.md, "The suggestion rules"). The loss minimum moves
    with the data order: the median of a few sweeps' suggestions (each
    with its own `seed`) is steadier than one. Look at `plot()`, which
    marks every rule's rates, to judge them.

    `suggest(fn)` and `plot(rule=fn)` also take a rule of your own: a
    function called on the same trimmed curves as the built-in rules.

    Examples:
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> rates = np.geomspace(1e-4, 10.0, 21)  # 4 rates per factor 10
        >>> losses = np.r_[np.linspace(2.0, 0.5, 16), 2.0 ** np.arange(5)]
        >>> result = co.LRRangeTestResult(
        ...     learning_rates=rates,
        ...     losses=losses,
        ...     raw_losses=losses,
        ...     accuracies=None,
        ...     raw_accuracies=None,
        ...     accuracy_name=None,
        ...     diverged=True,
        ...     sweep="exponential",
        ... )
        >>> round(result.min_loss_lr, 4)  # the rate at the lowest loss
        0.5623
        >>> [round(lr, 4) for lr in result.suggest()]  # the default
        [0.0469, 0.1874]
        >>> [round(lr, 4) for lr in result.suggest("minimum")]
        [0.0141, 0.0562]
    """

    RULES = _rules.RULES
    DEFAULT_RULE = _rules.DEFAULT_RULE

    def __init__(
        self,
        learning_rates,
        losses,
        raw_losses,
        accuracies,
        raw_accuracies,
        accuracy_name,
        diverged,
        sweep,
        validation=False,
    ):
        self.learning_rates = np.asarray(learning_rates, dtype=np.float64)
        self.losses = np.asarray(losses, dtype=np.float64)
        self.raw_losses = np.asarray(raw_losses, dtype=np.float64)
        self.accuracies = _optional_array(accuracies)
        self.raw_accuracies = _optional_array(raw_accuracies)
        self.accuracy_name = accuracy_name
        self.diverged = bool(diverged)
        self.sweep = sweep
        finite = np.isfinite(self.losses)
        if finite.any():
            best = int(np.argmin(np.where(finite, self.losses, np.inf)))
            self.min_loss_lr = float(self.learning_rates[best])
        else:
            best = None
            self.min_loss_lr = float("nan")
        self.validation = bool(validation)
        self.suggestions = _rules.suggest_all(
            self.learning_rates, self.losses, self.accuracies
        )
        self.suggested_base_lr, self.suggested_max_lr = self.suggestions[
            _rules.DEFAULT_RULE
        ]
        self._best_index = best

    def suggest(self, rule: Rule = DEFAULT_RULE) -> tuple[float, float]:
        """The `(base_lr, max_lr)` pair of `rule`.

        Args:
            rule: The name of a built-in rule, one of `RULES` (defaults to
                `DEFAULT_RULE`), or a function of the curves:
                `fn(learning_rates, losses)`, or, if it takes three
                parameters, `fn(learning_rates, losses, accuracies)`. It is
                called like the built-in rules, on float64 NumPy arrays of
                the smoothed curves, cut at the first non-finite loss (and,
                with three parameters, accuracy), with the first tenth of
                the points and the last five skipped; `accuracies` is None
                when the model tracks no accuracy. It must return a pair of
                finite numbers > 0 with `base_lr <= max_lr`.

        Returns:
            The pair `(base_lr, max_lr)`, as Python floats (NaN where a
            built-in rule finds nothing).

        Raises:
            ValueError: If `rule` is neither a function nor one of `RULES`
                (the message names them), or the function returns numbers
                that are not finite and > 0, or `base_lr > max_lr`.
            TypeError: If the function takes neither two nor three
                arguments, or returns something other than a pair of real
                numbers.

        Examples:
            >>> import numpy as np
            >>> import clr_optimizers as co
            >>> rates = np.geomspace(1e-4, 10.0, 21)
            >>> losses = np.r_[np.linspace(2.0, 0.5, 16), 2.0 ** np.arange(5)]
            >>> result = co.LRRangeTestResult(
            ...     learning_rates=rates,
            ...     losses=losses,
            ...     raw_losses=losses,
            ...     accuracies=None,
            ...     raw_accuracies=None,
            ...     accuracy_name=None,
            ...     diverged=True,
            ...     sweep="exponential",
            ... )
            >>> def a_third_of_the_minimum(learning_rates, losses):
            ...     top = learning_rates[np.argmin(losses)] / 3
            ...     return top / 4, top
            >>> [round(lr, 4) for lr in result.suggest(a_third_of_the_minimum)]
            [0.0469, 0.1874]
        """
        rule = check_suggestion_rule(rule, _rules.RULES)
        if callable(rule):
            return _rules.suggest(
                rule, self.learning_rates, self.losses, self.accuracies
            )
        return self.suggestions[rule]

    def __repr__(self):
        return (
            f"LRRangeTestResult(steps={len(self.learning_rates)}, "
            f"min_loss_lr={self.min_loss_lr:.4g}, "
            f"suggested_base_lr={self.suggested_base_lr:.4g}, "
            f"suggested_max_lr={self.suggested_max_lr:.4g}, "
            f"diverged={self.diverged})"
        )

    def plot(
        self,
        path: str | os.PathLike | None = None,
        rule: Rule | None = None,
    ) -> Any:
        """Draws the loss (and accuracy) against the learning rate.

        The raw curves in grey, the smoothed ones over them, and a vertical
        line at each rule's rates (dotted: `base_lr`, dashed: `max_lr`; the
        default rule's thicker). The loss axis is clipped to the descent:
        from the lowest raw loss to the highest loss up to the minimum.

        Args:
            path: None, or a file path to save the figure to (the format
                follows the extension, e.g. `.png`, `.pdf`).
            rule: None (the default) to mark every built-in rule's pair;
                or one rule to mark only its pair: a name of `RULES` or a
                function, as `suggest` takes them. A function's lines are
                labelled with its name and `()`, e.g. `my_rule() max`.

        Returns:
            The `matplotlib.figure.Figure`.

        Raises:
            ImportError: If matplotlib is not installed.

        Examples:
            >>> import os
            >>> import tempfile
            >>> import keras
            >>> import numpy as np
            >>> import clr_optimizers as co
            >>> model = keras.Sequential(
            ...     [keras.Input((4,)), keras.layers.Dense(1)]
            ... )
            >>> model.compile(optimizer="sgd", loss="mse")
            >>> x = np.random.rand(64, 4)
            >>> y = x @ np.array([[1.0], [-2.0], [3.0], [0.5]])
            >>> result = co.lr_range_test(
            ...     model, x, y, min_lr=1e-3, max_lr=10.0, steps=20,
            ...     batch_size=64, sweep="exponential", verbose=0,
            ... )
            >>> path = os.path.join(tempfile.mkdtemp(), "range_test.png")
            >>> figure = result.plot(path)
            >>> os.path.exists(path)
            True
            >>> def lowest_over_3(learning_rates, losses):
            ...     top = learning_rates[np.argmin(losses)] / 3
            ...     return top / 4, top
            >>> figure = result.plot(rule=lowest_over_3)
            >>> labels = figure.axes[0].get_legend_handles_labels()[1]
            >>> [label.split(" =")[0] for label in labels[2:]]
            ['lowest_over_3() base', 'lowest_over_3() max']
        """
        if rule is None:
            return plot_range_test(self, path)
        pair = self.suggest(rule)
        label = f"{_short_name(rule)}()" if callable(rule) else rule
        marked = copy.copy(self)
        marked.suggestions = {label: pair}
        return plot_range_test(marked, path)


def _short_name(function):
    """A function's name, for a legend: `my_rule` (not its qualified name)."""
    return getattr(function, "__name__", None) or type(function).__name__


def _optional_array(values):
    if values is None:
        return None
    return np.asarray(values, dtype=np.float64)


def warn_if_inconclusive(result):
    """Warns, at `lr_range_test`'s caller, when the minimum is at an end.

    A minimum at the first rate makes the suggestion unreliable, one at the
    last rate of a test that did not diverge makes it a lower bound, and no
    finite loss at all leaves nothing to suggest.
    """
    best = result._best_index
    if best is None:
        warnings.warn(
            "The range test recorded no finite loss: lower `min_lr`.",
            stacklevel=3,
        )
    elif best == 0:
        warnings.warn(
            "The smoothed loss was lowest at the first rate "
            f"({result.learning_rates[0]:.4g}): the suggestion is unreliable."
            " Rerun with a lower `min_lr` (or more `steps`).",
            stacklevel=3,
        )
    elif not result.diverged and best == len(result.losses) - 1:
        warnings.warn(
            "The smoothed loss was still falling at the last rate "
            f"({result.learning_rates[-1]:.4g}): the suggestion is a lower "
            "bound. Rerun with a higher `max_lr`.",
            stacklevel=3,
        )
