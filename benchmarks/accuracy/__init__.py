"""The accuracy benchmark: does CLR from the range test train better models
than a tuned fixed rate? The protocol is in PROTOCOL.md, next to this file.

Run it from the repository root: `python -m benchmarks.accuracy --help`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.accuracy.report import summary_markdown  # noqa: E402
from benchmarks.accuracy.run import run_benchmark  # noqa: E402

__all__ = ["run_benchmark", "summary_markdown"]
