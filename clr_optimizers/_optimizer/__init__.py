"""The optimizer plumbing: one mixin that gives any Keras optimizer a cycle.

- `_mixin`: `CyclicalLearningRateMixin`, its construction, the schedule of
  each update and the Keras hooks it overrides.
- `_state`: its config and saved variables, older layouts included.
- `_momentum`: the cycled momentum term and what stands in its attribute.
- `_host`: the schedule evaluated on the host, for PyTorch's eager update.
- `_applied`: the schedule of past updates evaluated on the host, for the
  logs and the plots.
- `_held_updates`: the end-of-`fit` warning of held updates.
- `_factory`: `with_clr`, the cyclical subclass of any optimizer class.

The policies themselves live in `clr_optimizers._policy`.
"""
