"""Every argument check of the package, in the Keras error style.

Each check takes the value and the argument's name as the user wrote it, and
raises `TypeError` or `ValueError` naming the argument, the value received
and what is allowed; it returns the value normalized (a Python float or int,
a normalized `clr` dict).

- `_numbers`: plain values (rates, counts, fractions, flags, choices).
- `_clr`: the optimizers' `clr` dict and the policies' arguments.
- `_callbacks`: the callbacks' arguments.
- `_plots`: the plots' arguments.
- `_range_test`: the range test's arguments and suggestion rules.
- `_peak`: `find_max_lr`'s arguments.
"""

from clr_optimizers._validation._callbacks import check_cycle_callback
from clr_optimizers._validation._callbacks import check_directory
from clr_optimizers._validation._callbacks import check_optional_count
from clr_optimizers._validation._callbacks import check_snapshot_cycle
from clr_optimizers._validation._clr import AUTO
from clr_optimizers._validation._clr import CLR_KEY_ALIASES
from clr_optimizers._validation._clr import CLR_KEYS
from clr_optimizers._validation._clr import CLR_MODES
from clr_optimizers._validation._clr import COMMON_KEYS
from clr_optimizers._validation._clr import CYCLIC_KEYS
from clr_optimizers._validation._clr import EPOCHS
from clr_optimizers._validation._clr import FIT_LENGTH_KEYS
from clr_optimizers._validation._clr import MODES
from clr_optimizers._validation._clr import ONE_CYCLE
from clr_optimizers._validation._clr import ONE_CYCLE_KEYS
from clr_optimizers._validation._clr import check_decay
from clr_optimizers._validation._clr import check_gamma
from clr_optimizers._validation._clr import check_length
from clr_optimizers._validation._clr import check_mode
from clr_optimizers._validation._clr import check_one_cycle_phases
from clr_optimizers._validation._clr import check_scale_fn
from clr_optimizers._validation._clr import check_total_steps
from clr_optimizers._validation._clr import is_fit_length
from clr_optimizers._validation._clr import validate_clr
from clr_optimizers._validation._numbers import check_choice
from clr_optimizers._validation._numbers import check_count
from clr_optimizers._validation._numbers import check_factor
from clr_optimizers._validation._numbers import check_flag
from clr_optimizers._validation._numbers import check_fraction
from clr_optimizers._validation._numbers import check_host_function
from clr_optimizers._validation._numbers import check_iterations
from clr_optimizers._validation._numbers import check_momentum
from clr_optimizers._validation._numbers import check_rate
from clr_optimizers._validation._numbers import check_step_size
from clr_optimizers._validation._numbers import check_update_count
from clr_optimizers._validation._numbers import check_whole_count
from clr_optimizers._validation._numbers import check_whole_number
from clr_optimizers._validation._numbers import number_or_text
from clr_optimizers._validation._peak import check_budget
from clr_optimizers._validation._peak import check_monitor
from clr_optimizers._validation._peak import check_monitored
from clr_optimizers._validation._peak import check_run_epochs
from clr_optimizers._validation._peak import check_validation_choice
from clr_optimizers._validation._plots import MOMENTUM_LOG_KEYS
from clr_optimizers._validation._plots import RATE_LOG_KEYS
from clr_optimizers._validation._plots import check_axes
from clr_optimizers._validation._plots import check_comparable
from clr_optimizers._validation._plots import check_history
from clr_optimizers._validation._plots import check_plot_length
from clr_optimizers._validation._plots import check_schedule_style
from clr_optimizers._validation._plots import check_updates_per_epoch
from clr_optimizers._validation._range_test import VALIDATION_BATCH
from clr_optimizers._validation._range_test import VALIDATION_DATASET
from clr_optimizers._validation._range_test import check_beta
from clr_optimizers._validation._range_test import check_compiled_model
from clr_optimizers._validation._range_test import check_divergence_factor
from clr_optimizers._validation._range_test import check_rate_range
from clr_optimizers._validation._range_test import check_rule_arity
from clr_optimizers._validation._range_test import check_suggested_pair
from clr_optimizers._validation._range_test import check_suggestion_rule
from clr_optimizers._validation._range_test import check_sweep
from clr_optimizers._validation._range_test import check_training_data
from clr_optimizers._validation._range_test import check_unset_for_batches
from clr_optimizers._validation._range_test import check_validation_input
from clr_optimizers._validation._range_test import check_validation_steps
from clr_optimizers._validation._range_test import check_verbose
from clr_optimizers._validation._range_test import function_name

__all__ = [
    "check_budget",
    "check_monitor",
    "check_monitored",
    "check_run_epochs",
    "check_validation_choice",
    "check_rate",
    "check_step_size",
    "check_whole_count",
    "check_update_count",
    "check_fraction",
    "check_momentum",
    "check_factor",
    "check_flag",
    "check_choice",
    "check_count",
    "check_whole_number",
    "check_host_function",
    "number_or_text",
    "check_iterations",
    "MODES",
    "ONE_CYCLE",
    "CLR_MODES",
    "COMMON_KEYS",
    "CYCLIC_KEYS",
    "ONE_CYCLE_KEYS",
    "CLR_KEYS",
    "CLR_KEY_ALIASES",
    "AUTO",
    "EPOCHS",
    "FIT_LENGTH_KEYS",
    "check_length",
    "is_fit_length",
    "check_one_cycle_phases",
    "check_gamma",
    "check_scale_fn",
    "validate_clr",
    "check_total_steps",
    "check_decay",
    "check_mode",
    "check_directory",
    "check_optional_count",
    "check_cycle_callback",
    "check_snapshot_cycle",
    "check_schedule_style",
    "check_updates_per_epoch",
    "check_plot_length",
    "check_comparable",
    "check_axes",
    "RATE_LOG_KEYS",
    "MOMENTUM_LOG_KEYS",
    "check_history",
    "check_compiled_model",
    "check_rate_range",
    "check_sweep",
    "check_beta",
    "check_divergence_factor",
    "check_verbose",
    "check_training_data",
    "check_unset_for_batches",
    "VALIDATION_BATCH",
    "VALIDATION_DATASET",
    "check_validation_input",
    "check_validation_steps",
    "check_suggestion_rule",
    "function_name",
    "check_rule_arity",
    "check_suggested_pair",
]
