"""`CycleSnapshots`: the model saved at the end of every cycle.

The snapshots of a snapshot ensemble (Huang et al., "Snapshot Ensembles:
Train 1, get M for free", https://arxiv.org/abs/1704.00109). Here:

Where the cycles end, and the cycle a fit follows, are in `_cycle_ends`;
this module is the callback.
"""

import os

import keras

from clr_optimizers._callbacks._cycle_ends import cycle_of
from clr_optimizers._callbacks._cycle_ends import misaligned_end
from clr_optimizers._callbacks._cycle_ends import scalar_reader
from clr_optimizers._callbacks._rate_override import rate_owner
from clr_optimizers._keras_private import micro_batch_counter
from clr_optimizers._validation import check_cycle_callback
from clr_optimizers._validation import check_directory
from clr_optimizers._validation import check_flag
from clr_optimizers._validation import check_optional_count
from clr_optimizers._validation import check_snapshot_cycle

_NAME = "CycleSnapshots"


class CycleSnapshots(keras.callbacks.Callback):
    """Saves the model each time a cycle ends: the snapshots of an ensemble.

    A snapshot ensemble (Huang et al., "Snapshot Ensembles: Train 1, get M
    for free", https://arxiv.org/abs/1704.00109) averages the predictions
    of the models saved at the end of each cycle of a cyclical learning
    rate, where the rate is lowest. This callback saves them: with
    `model.save` (a `.keras` file) or, with `weights_only=True`,
    `model.save_weights` (a `.weights.h5` file), named by the cycle's
    number, `snapshot-003.keras` for the third cycle, in `directory`.

    The cycle is the `clr` cycle of the model's optimizer (an optimizer of
    clr_optimizers, also inside a `LossScaleOptimizer`), or that of the
    callback passed as `cycle`, a `CyclicLR` of the same `fit`. A cycle
    ends once the cycle's count of applied updates (`clr_iterations`)
    reaches:

    - `2 * step_size * k` for cycle `k` of a symmetric cycle, and
      `(step_size + step_size_down) * k` for an asymmetric one;
    - shifted by the warm-up, `warmup_steps + period * k`, when the `clr`
      dict (or the callback) has `warmup_steps`;
    - `total_steps`, the end of a 1cycle (one snapshot).

    The lengths are read when each update is counted, so lengths planned by
    `FitSchedule` (in epochs, or `"auto"`) and step sizes assigned during
    training are followed. With gradient accumulation the count is that of
    applied updates. Restarting the cycle (`clr_iterations.assign(0)`,
    `CyclicLR._reset()`) restarts the numbers: a later snapshot of the
    same number replaces the file.

    A `OneCycle` callback may be passed as `cycle` too (any callback with
    `total_steps` and without `step_size`): its cycle ends once the
    optimizer's `iterations` reaches its `total_steps` (with `"auto"`, the
    length it plans at the start of the `fit`), one snapshot.

    With `steps_per_execution > 1` Keras calls the callback once per
    execution, so each cycle must end at an execution's last batch: the
    snapshot is then exact. At the start of `fit`, when the batches per
    epoch are known, a cycle end that an execution would run past raises a
    `ValueError` that names a `steps_per_execution` that fits; one detected
    during training (unknown epoch length, a count changed during `fit`)
    raises a `RuntimeError` at that execution's end. A snapshot is never
    taken at a later update than the cycle's end.

    Runs on TensorFlow, JAX (the carried state is written back to the model
    before each save) and PyTorch.

    Args:
        directory: Where to save, a str or an `os.PathLike`; created at the
            start of `fit` if missing.
        keep: None (keep every snapshot), or an int >= 1: only the `keep`
            most recent files this callback saved are kept, older ones are
            deleted. Defaults to None.
        weights_only: Save the weights only (`.weights.h5`, loaded with
            `model.load_weights` into the same architecture) instead of the
            whole model (`.keras`, loaded with `keras.models.load_model`).
            Defaults to False.
        cycle: None (the optimizer's `clr` cycle), or the callback that
            drives the cycle in the same `fit` (a `CyclicLR` or a
            `OneCycle`). Defaults to None.

    Raises:
        TypeError: If `directory` is not a str or an `os.PathLike`,
            `weights_only` not a bool, or `cycle` not a cycle's callback.
        ValueError: If `keep` is not None or an int >= 1. At the start of
            `fit`: if the optimizer has no cycle and no `cycle` is given,
            `cycle` is not a callback of the same `fit`, or an execution of
            `steps_per_execution` batches would run past a cycle's end.
        RuntimeError: During `fit`, if an execution ran past a cycle's end.

    Examples:
        >>> import os
        >>> import tempfile
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> opt = co.SGD(
        ...     learning_rate=0.001,
        ...     clr={"mode": "triangular", "step_size": 2, "max_lr": 0.01},
        ... )
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=opt, loss="mse")
        >>> x, y = np.random.rand(64, 4), np.random.rand(64, 1)
        >>> tmp = tempfile.TemporaryDirectory()
        >>> snapshots = co.CycleSnapshots(tmp.name, keep=2)
        >>> _ = model.fit(  # 16 updates: cycles end at 4, 8, 12 and 16
        ...     x, y, batch_size=4, verbose=0, callbacks=[snapshots]
        ... )
        >>> [os.path.basename(path) for path in snapshots.paths]
        ['snapshot-003.keras', 'snapshot-004.keras']
        >>> sorted(os.listdir(tmp.name))  # the older two were deleted
        ['snapshot-003.keras', 'snapshot-004.keras']
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        keep: int | None = None,
        weights_only: bool = False,
        cycle: keras.callbacks.Callback | None = None,
    ) -> None:
        super().__init__()
        self.directory = check_directory(directory)
        self.keep = check_optional_count(keep, "keep")
        self.weights_only = check_flag(weights_only, "weights_only")
        self.cycle = check_cycle_callback(cycle)
        self._paths: list[str] = []
        self._source = None
        self._fit_model = None
        self._begin = 0
        self._start = (0, 0)
        self._checked = False

    @property
    def paths(self) -> list[str]:
        """The snapshots saved and kept, oldest first (a new list)."""
        return list(self._paths)

    def snapshot_path(self, cycle_number: int) -> str:
        """The file of cycle `cycle_number`'s snapshot.

        `snapshot-NNN.keras` (or `.weights.h5` with `weights_only`), the
        number written with at least 3 digits, in `directory`.
        """
        extension = ".weights.h5" if self.weights_only else ".keras"
        name = f"snapshot-{int(cycle_number):03d}{extension}"
        return os.path.join(self.directory, name)

    # Callback hooks.

    def on_train_begin(self, logs=None):
        model = self.model
        optimizer = rate_owner(getattr(model, "optimizer", None), _NAME)
        check_snapshot_cycle(model, optimizer, self.cycle, _NAME)
        self._fit_model = model
        self._source = cycle_of(model, optimizer, self.cycle)
        os.makedirs(self.directory, exist_ok=True)
        self._checked = False
        # Lengths that a later callback plans (FitSchedule) are checked at
        # the first batch.
        if self._source.planned():
            self._check_executions()

    def on_train_batch_begin(self, batch, logs=None):
        if self._source is None:
            return
        if not self._checked:
            self._check_executions()
        self._begin = self._source.position()

    def on_train_batch_end(self, batch, logs=None):
        source = self._source
        if source is None:
            return
        begin, position = self._begin, source.position()
        self._begin = position
        if position <= begin:
            return  # no update applied (a micro-batch, a held update)
        ends = source.ends()
        upcoming = ends.next_after(begin)
        if upcoming is None or upcoming[1] > position:
            return
        number, end = upcoming
        if end < position:
            self._raise_crossed(ends, number, end, begin, position)
        self._save(number)

    def on_train_end(self, logs=None):
        self._source = None
        self._fit_model = None

    # Saving.

    def _save(self, number):
        path = self.snapshot_path(number)
        # On JAX, `self.model` writes the carried state back to the model.
        model = self.model
        if self.weights_only:
            model.save_weights(path)
        else:
            model.save(path)
        if path in self._paths:
            self._paths.remove(path)
        self._paths.append(path)
        while self.keep is not None and len(self._paths) > self.keep:
            old = self._paths.pop(0)
            if os.path.exists(old):
                os.remove(old)

    # Executions of several batches.

    def _fit_shape(self):
        """`(steps_per_execution, accumulation, phase, steps, epochs)`."""
        model = self._fit_model
        optimizer = rate_owner(model.optimizer, _NAME)
        accumulation = (
            getattr(model.optimizer, "gradient_accumulation_steps", None)
            or getattr(optimizer, "gradient_accumulation_steps", None)
            or 1
        )
        micro_batches = scalar_reader(model)(micro_batch_counter(optimizer))
        params = self.params or {}
        return (
            max(int(getattr(model, "steps_per_execution", 1) or 1), 1),
            int(accumulation),
            micro_batches % int(accumulation),
            params.get("steps"),
            params.get("epochs"),
        )

    def _check_executions(self):
        """Raises if an execution of the fit would run past a cycle end."""
        self._checked = True
        spe, accumulation, phase, steps, epochs = self._fit_shape()
        ends = self._source.ends()
        position = self._source.position()
        self._start = (position, phase)
        found = misaligned_end(
            ends, position, phase, accumulation, spe, steps, epochs
        )
        if found is None:
            return
        number, end, batch, first, last = found
        fitting = next(
            s
            for s in range(spe - 1, 0, -1)
            if misaligned_end(
                ends, position, phase, accumulation, s, steps, epochs
            )
            is None
        )
        raise ValueError(
            f"`{_NAME}` saves the model when a cycle ends, but with "
            f"`steps_per_execution={spe}` cycle {number} of "
            f"{self._source.describe()} would end inside an execution: its "
            f"last update (update {end} of the cycle's count) is applied "
            f"by batch {batch} of an epoch (from 0), in the execution of "
            f"batches {first} to {last}. Keras calls callbacks once per "
            "execution, so the model at the cycle's end could not be saved. "
            f"{self._remedy(ends, accumulation, steps)} Here "
            f"`steps_per_execution={fitting}` saves every snapshot of this "
            f"fit exactly. Received: steps_per_execution={spe}, "
            f"steps_per_epoch={steps}, gradient_accumulation_steps="
            f"{accumulation}, {self._lengths(ends)}"
        )

    def _raise_crossed(self, ends, number, end, begin, position):
        spe, accumulation, _, steps, _ = self._fit_shape()
        raise RuntimeError(
            f"`{_NAME}` saves the model when a cycle ends, but cycle "
            f"{number} of {self._source.describe()} ended inside an "
            f"execution: the execution took the cycle's count from {begin} "
            f"to {position} updates, past the cycle's end at {end}. Keras "
            "calls callbacks once per execution, so the model at the "
            "cycle's end is not there to save, and no snapshot is taken at "
            f"a later update. {self._remedy(ends, accumulation, steps)} "
            f"Received: steps_per_execution={spe}, steps_per_epoch={steps}, "
            f"gradient_accumulation_steps={accumulation}, "
            f"{self._lengths(ends)}"
        )

    def _remedy(self, ends, accumulation, steps):
        """The fix: a `steps_per_execution` that divides these numbers."""
        lengths = []
        if ends.period is not None:
            batches = ends.period * accumulation
            per_update = ""
            if accumulation > 1:
                per_update = f": {ends.period} updates of {accumulation}"
            lengths.append(f"the batches of a cycle ({batches}{per_update})")
        position, phase = self._start
        upcoming = ends.next_after(position)
        if upcoming is not None:
            lead = (upcoming[1] - position) * accumulation - phase
            lengths.append(f"those before the fit's first cycle end ({lead})")
        if steps:
            lengths.append(f"those of an epoch ({steps})")
        if len(lengths) > 1:
            lengths[-2:] = [f"{lengths[-2]} and {lengths[-1]}"]
        return (
            f"Use a `steps_per_execution` that divides {', '.join(lengths)}, "
            "or `steps_per_execution=1`."
        )

    @staticmethod
    def _lengths(ends):
        if ends.period is None:
            return f"a cycle ending at update {ends.first}"
        return (
            f"cycles of {ends.period} updates, the first ending at update "
            f"{ends.first}"
        )
