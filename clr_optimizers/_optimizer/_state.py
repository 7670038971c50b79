"""What an optimizer with a cycle saves, and how it restores older layouts.

`CycleStateMixin` gives the optimizer classes their config (the `clr` dict
with the current values of its variables, a registered `scale_fn` by name)
and a `load_own_variables` that also restores state saved by the same class
with or without a cycle.
"""

import warnings
from typing import Any

import numpy as np
from keras import ops

from clr_optimizers._serialization import deserialize_scale_fn
from clr_optimizers._serialization import serialize_scale_fn
from clr_optimizers._validation import ONE_CYCLE
from clr_optimizers._validation import is_fit_length

# The mixins are combined with a Keras optimizer class, whose attributes they
# use; typed as Any, the base lets the type checker accept them.
_OptimizerBase: Any = object


class CycleStateMixin(_OptimizerBase):
    """Config and saved variables of an optimizer with a cycle.

    A base of `CyclicalLearningRateMixin`; it uses the mixin's `clr`,
    `decay`, `_momentum_attribute`, `_clr_config`, `_clr_insert_index` and
    `_clr_variable_count`.
    """

    @property
    def clr(self) -> dict[str, Any] | None:
        """The cycle's settings as a dict (None without a cycle).

        The same keys as the `clr` argument, with the current values of the
        `max_lr`, `step_size`, `step_size_down` and `clr_warmup_steps`
        variables; a length given in epochs, or `"auto"`, stays so (its
        variable holds the length a fit planned).
        """
        config = self._clr_config
        if config is None:
            return None
        settings = {} if config["mode"] is None else {"mode": config["mode"]}
        settings["max_lr"] = float(ops.convert_to_numpy(self.max_lr))
        for key in ("step_size", "step_size_down", "warmup_steps"):
            variable = self._length_variable(key)
            if is_fit_length(config[key]):
                settings[key] = config[key]
            elif variable is not None:
                settings[key] = int(ops.convert_to_numpy(variable))
        if config["warmup_steps"] is not None:
            settings["warmup_start_lr"] = config["warmup_start_lr"]
        if config["mode"] == "exp_range":
            settings["clr_gamma"] = config["clr_gamma"]
        keys: tuple[str, ...] = (
            "scale_fn",
            "scale_mode",
            "base_momentum",
            "max_momentum",
        )
        if config["mode"] == ONE_CYCLE:
            keys += (
                "total_steps",
                "pct_start",
                "final_div_factor",
                "anneal",
                "three_phase",
            )
        settings.update({k: config[k] for k in keys if config[k] is not None})
        return settings

    def get_config(self):
        config = super().get_config()
        # The cycled momentum term is not a constructor value.
        config.pop(self._momentum_attribute, None)
        clr = self.clr
        if clr is not None and "scale_fn" in clr:
            clr["scale_fn"] = serialize_scale_fn(clr["scale_fn"])
        config.update({"clr": clr, "decay": self.decay})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        clr = config.get("clr")
        if clr is not None and isinstance(clr.get("scale_fn"), dict):
            scale_fn = deserialize_scale_fn(clr["scale_fn"], custom_objects)
            config = {**config, "clr": {**clr, "scale_fn": scale_fn}}
        return super().from_config(config, custom_objects=custom_objects)

    def load_own_variables(self, store):
        """Restores state, also state saved with or without a cycle.

        State saved by the same optimizer class without a cycle (a plain Keras
        optimizer, or `clr=None`) restores the shared variables (iterations,
        learning rate, slots) and keeps the cycle as constructed, with
        `clr_iterations` at 0. State saved with a cycle and loaded where there
        is none restores the shared variables and warns that the cycle's state
        has no place. Every value is checked against its variable's shape and
        kind (integer or float) before any is written, so a mismatch raises a
        `ValueError` and leaves the optimizer as it was.
        """
        n_saved = len(store.keys())
        n_own = len(self.variables)
        k = self._clr_insert_index
        saved = [store[str(i)] for i in range(n_saved)]
        if self._clr_config is not None and n_saved == n_own - (
            n_clr := self._clr_variable_count
        ):
            targets = self.variables[:k] + self.variables[k + n_clr :]
            sources = saved
        elif (
            self._clr_config is None
            and n_own
            and _looks_like_a_cycle(saved[k : k + n_saved - n_own])
        ):
            n_clr = n_saved - n_own
            targets = self.variables
            sources = saved[:k] + saved[k + n_clr :]
            warnings.warn(
                f"Optimizer '{self.name}' has no cycle (clr=None), but its "
                "saved state has one: restored iterations, learning rate and "
                "slots; the saved cycle (max_lr, step sizes, clr_iterations, "
                "current_lr...) was not restored. Construct the optimizer "
                "with the same `clr` to restore it.",
                stacklevel=2,
            )
        elif n_saved == n_own:
            targets, sources = self.variables, saved
        else:
            return super().load_own_variables(store)
        for variable, value in zip(targets, sources):
            value = np.asarray(value)
            same_kind = ("int" in str(variable.dtype)) == (
                value.dtype.kind in "iu"
            )
            if tuple(variable.shape) != tuple(value.shape) or not same_kind:
                raise ValueError(
                    f"Cannot restore optimizer '{self.name}': variable "
                    f"'{variable.path}' has shape {tuple(variable.shape)} and "
                    f"dtype {variable.dtype}, but the saved value has shape "
                    f"{tuple(value.shape)} and dtype {value.dtype}: the state "
                    "was saved by an optimizer with another layout (another "
                    "`clr`, or another class). Nothing was restored."
                )
        for variable, value in zip(targets, sources):
            variable.assign(value)
        self._find_lengths_to_plan()


def _looks_like_a_cycle(values):
    """Whether saved values have the layout of a cycle's variables.

    A cycle keeps 4 to 8 scalar variables, the first (max_lr) a float and the
    last (held_updates) an integer.
    """
    if not 4 <= len(values) <= 8:
        return False
    values = [np.asarray(v) for v in values]
    return (
        all(v.shape == () for v in values)
        and values[0].dtype.kind == "f"
        and values[-1].dtype.kind in "iu"
    )
