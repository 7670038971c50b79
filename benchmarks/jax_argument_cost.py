"""What one more scalar array costs a jitted JAX step (CPU dispatch).

The cyclical optimizers carry five scalar variables (max_lr, step_size,
clr_iterations, current_lr, held_updates) in and out of Keras's jitted train
step. This times a jitted update of a 32x32 array with 0, 5 and 10 extra
int32 scalars carried through it, median of 7 rounds of 2,000 calls:

    KERAS_BACKEND=jax python benchmarks/jax_argument_cost.py
"""

import statistics
import time

import jax
import jax.numpy as jnp


def step_time_us(extra, calls=2000, rounds=7):
    @jax.jit
    def step(weights, *scalars):
        return weights * 0.999, tuple(s + 1 for s in scalars)

    weights = jnp.ones((32, 32))
    scalars = tuple(jnp.array(1, jnp.int32) for _ in range(extra))
    for _ in range(200):
        weights, scalars = step(weights, *scalars)
    jax.block_until_ready(weights)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            weights, scalars = step(weights, *scalars)
        jax.block_until_ready(weights)
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


if __name__ == "__main__":
    base = step_time_us(0)
    print(f"0 extra scalars: {base:.1f} us per call")
    for extra in (5, 10):
        t = step_time_us(extra)
        print(f"{extra} extra scalars: {t:.1f} us per call "
              f"(+{(t - base) / extra:.2f} us per scalar)")
