"""What the range test records after each step, and when it stops.

Each curve (the loss, and the accuracy when the model tracks one) is kept
raw and smoothed by a bias-corrected moving average (`MovingAverage`). The
test stops once the smoothed loss is not finite, or exceeds
`divergence_factor` times its lowest value so far.
"""

import math

ACCURACY_KEYS = ("accuracy", "acc")


class MovingAverage:
    """A bias-corrected exponential moving average, with its history.

    After the `k`-th value `v`: `avg = beta * avg + (1 - beta) * v` (from
    `avg = 0`) and the smoothed value is `avg / (1 - beta**k)`, so the first
    values are not pulled towards 0 (Kingma and Ba 2014, "Adam", section 3;
    fastai's `lr_find` smooths its loss the same way).

    Examples:
        >>> average = MovingAverage(0.5)
        >>> average.add(4.0), average.add(1.0)
        (4.0, 2.0)
        >>> average.raw, average.smoothed
        ([4.0, 1.0], [4.0, 2.0])
    """

    def __init__(self, beta):
        self.beta = beta
        self.raw = []
        self.smoothed = []
        self._average = 0.0

    def add(self, value):
        """Records `value` (as a Python float); returns the smoothed value."""
        value = float(value)
        self.raw.append(value)
        self._average = self.beta * self._average + (1 - self.beta) * value
        smoothed = self._average / (1 - self.beta ** len(self.raw))
        self.smoothed.append(smoothed)
        return smoothed


def accuracy_key(logs):
    """The name of the accuracy metric in `logs`, or None.

    Examples:
        >>> accuracy_key({"loss": 1.0, "binary_accuracy": 0.5})
        'binary_accuracy'
    """
    for key in ACCURACY_KEYS:
        if key in logs:
            return key
    for key in logs:
        if key.endswith("accuracy"):
            return key
    return None


class Recorder:
    """The loss and accuracy curves of the steps, and the divergence test.

    Args:
        beta: The moving average's smoothing factor, in [0, 1).
        divergence_factor: None, or the ratio to the lowest smoothed loss
            above which the test stops (applied while that loss is > 0).
    """

    def __init__(self, beta, divergence_factor):
        self.beta = beta
        self.divergence_factor = divergence_factor
        self.loss = MovingAverage(beta)
        self.accuracy = None
        self.accuracy_name = None
        self.diverged = False
        self._best = math.inf

    def track_accuracy(self, logs):
        """Follows the accuracy metric of `logs`, if it has one."""
        if self.accuracy_name is None:
            self.accuracy_name = accuracy_key(logs)
        if self.accuracy_name is not None and self.accuracy is None:
            self.accuracy = MovingAverage(self.beta)

    def add(self, logs):
        """Records a step's logs; returns its smoothed loss.

        Sets `diverged` when the smoothed loss is not finite or exceeds
        `divergence_factor` times the lowest one before it.
        """
        smoothed = self.loss.add(logs["loss"])
        if self.accuracy is not None:
            self.accuracy.add(logs[self.accuracy_name])
        if not math.isfinite(smoothed) or (
            self.divergence_factor is not None
            and self._best > 0
            and smoothed > self.divergence_factor * self._best
        ):
            self.diverged = True
        else:
            self._best = min(self._best, smoothed)
        return smoothed

    def __len__(self):
        return len(self.loss.smoothed)
