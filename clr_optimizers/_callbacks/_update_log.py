"""The record of every applied update's rate and momentum, and the logs."""

LEARNING_RATE = "learning_rate"
"""The key of the rate in `fit`'s logs, as Keras's own callbacks write it."""


class UpdateLog:
    """Every applied update's rate (and momentum), as a dict of lists.

    Keys: `"iterations"` (the optimizer's `iterations` after the update,
    from 1), `"learning_rate"`, and the cycled momentum term's name
    (`"momentum"` or `"beta_1"`) when there is one.

    Examples:
        >>> log = UpdateLog()
        >>> log.add(1, 0.01, "momentum", 0.95)
        >>> logs = {"loss": 1.0}
        >>> log.write_to(logs)
        >>> logs
        {'loss': 1.0, 'learning_rate': 0.01, 'momentum': 0.95}
    """

    def __init__(self) -> None:
        self.history: dict[str, list] = {}
        self._latest: dict[str, float] = {}

    def add(self, iterations, rate, momentum_name=None, momentum=None):
        """Appends one update."""
        latest = {LEARNING_RATE: rate}
        if momentum_name is not None and momentum is not None:
            latest[momentum_name] = momentum
        self.history.setdefault("iterations", []).append(iterations)
        for key, value in latest.items():
            self.history.setdefault(key, []).append(value)
        self._latest = latest

    def latest_rate(self):
        """The rate of the latest update added, or NaN before any."""
        return self._latest.get(LEARNING_RATE, float("nan"))

    def write_to(self, logs):
        """Puts the latest update's values in `fit`'s `logs` dict."""
        if logs is not None:
            logs.update(self._latest)
