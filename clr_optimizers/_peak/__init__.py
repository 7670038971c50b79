"""`find_max_lr`: the peak of a 1cycle, chosen by short validated trials.

- `_plan`: what the search spends, on which rates (closed-form).
- `_data`: the training and validation data, as `fit` takes them.
- `_trials`: one trial, a short 1cycle `fit` from the starting point.
- `_search`: `find_max_lr`, the range test then two rungs of trials.
- `_result`: `FindMaxLRResult`, with `plot()` and `one_cycle()`.
"""

from clr_optimizers._peak._result import FindMaxLRResult
from clr_optimizers._peak._search import find_max_lr
from clr_optimizers._peak._trials import Trial

__all__ = ["FindMaxLRResult", "Trial", "find_max_lr"]
