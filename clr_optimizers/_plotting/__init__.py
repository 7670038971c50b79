"""All of the package's drawing, with matplotlib.

- `plot_schedule` (`_schedule`): the rate (and momentum) a cyclical optimizer
  applies, update by update, computed by `_applied` with the optimizer's own
  schedule.
- `plot_history` (`_history`): the rate and momentum logged during a fit.
- `plot_range_test` (`_range_test`): a range test's curves and suggestions,
  behind `LRRangeTestResult.plot()`.
- `plot_max_lr_search` (`_peak`): `find_max_lr`'s trials and choice, behind
  `FindMaxLRResult.plot()`.

matplotlib is an optional dependency (`pip install 'clr_optimizers[plot]'`):
it is imported only when something is drawn, by `require_matplotlib`
(`_figure`, which also lays out the panels). The figures are made without
`pyplot`, so nothing is shown until one is saved or displayed in a notebook.
"""

from clr_optimizers._plotting._figure import INSTALL_HINT
from clr_optimizers._plotting._figure import require_matplotlib
from clr_optimizers._plotting._history import plot_history
from clr_optimizers._plotting._peak import plot_max_lr_search
from clr_optimizers._plotting._range_test import plot_range_test
from clr_optimizers._plotting._schedule import plot_schedule

__all__ = [
    "INSTALL_HINT",
    "plot_history",
    "plot_max_lr_search",
    "plot_range_test",
    "plot_schedule",
    "require_matplotlib",
]
