"""The learning rate range test (Smith 2015, section 3.3), one job a module.

- `_validation` (the package's): every argument check.
- `_data`: the batch source, from arrays or from a dataset, and the
  batches taken from a validation dataset.
- `_sweep`: the rate of each step, and the override that applies it.
- `_record`: the curves the loop records, smoothed by one moving average,
  and the divergence test.
- `_loop`: `lr_range_test`, the training loop with its snapshot and
  restore of the model's and optimizer's state and its progress bar.
- `_rules`: the closed-form rules that turn the curves into a
  `(base_lr, max_lr)` pair.
- `_result`: `LRRangeTestResult`; its plot is drawn by
  `clr_optimizers._plotting`.
"""
