"""The learning-rate policies, as plain functions of the update count.

One policy, two ways to evaluate it, and a reference:

- `_ops`: the operations namespaces. `TensorOps` (`keras.ops` on scalar
  tensors, in the training graph of every backend) and `HostOps` (Python
  float64 on Python integers, for PyTorch's eager update).
- `_cyclical` and `_one_cycle`: the policies, written once against such a
  namespace `xp`. The cycle position comes from the integer update counter
  with integer arithmetic, so it stays exact for any length of training.
- `_warmup`: the linear warm-up before a cyclical policy.
- `_clr_dict`: the policy a validated `clr` dict describes, with its
  momentum and its run-time validity, as the optimizers evaluate it.
- `_reference`: a literal float64 NumPy transcription of the paper's
  formula, used to check and draw the in-graph rate.

The package is free of validation and of optimizer plumbing: those live in
`clr_optimizers._validation` and `clr_optimizers._optimizer`.
"""
