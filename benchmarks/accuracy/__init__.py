"""The accuracy benchmark: does a range test, then 1cycle, train better
models than a tuned constant rate and a tuned cosine schedule? The protocol
is in PROTOCOL.md, next to this file.

Run it from the repository root: `python -m benchmarks.accuracy --help`.
Nothing here imports Keras, so that the command can choose its backend.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
