"""The callbacks, one job per module.

- `_cyclic_lr`: `CyclicLR` (and its alias `CyclicalLR`), the original CLR
  callback's interface: the settings, `_reset`, `history` and the callback
  hooks that keep the optimizer's rate in step with the cycle.
- `_cycle_rates`: the cycle's settings in Keras variables, and the rate of
  an update from them, in the training step or on the host.
- `_scale_table`: a custom `scale_fn`'s values, evaluated on the host and
  held in a Keras variable that the training step indexes.
- `_one_cycle`, `_one_cycle_rates`: `OneCycle`, 1cycle for any optimizer,
  and its settings and rates.
- `_momentum_override`: the momentum term that `OneCycle` cycles.
- `_fit_schedule`: `FitSchedule`, which plans an optimizer's lengths from
  `fit` and logs every update.
- `_fit_length`: the number of updates a `fit` applies.
- `_update_log`: the per-update record and the logs the callbacks write.
- `_snapshots`: `CycleSnapshots`, the model saved at every cycle's end;
  `_cycle_ends`: where the cycles it follows end.
- `_attachment`: which optimizer a callback drives, the override of its
  learning rate, the callback's count of its updates, and carrying every
  change to the optimizer's `learning_rate` variable, the scale table and
  (on JAX) the compiled step.
- `_rate_override`: `rate_owner` and `override_learning_rate`, which replace
  an optimizer's learning rate for the length of a `fit` (also used by
  `lr_range_test`).
- `_trainer_state`: what each backend's trainer does with the variables the
  step reads (JAX compiles them in as constants).
"""
