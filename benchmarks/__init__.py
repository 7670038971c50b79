"""Benchmarks of clr_optimizers, run from a checkout of the repository.

`python -m benchmarks.accuracy`: the accuracy benchmark (accuracy/PROTOCOL.md);
`benchmarks/bench_step_time.py`: the step-time benchmark (README.md here).
"""
