"""Progress lines, each with the seconds since the start."""

import time


class Log:
    """Prints progress lines with the elapsed time."""

    def __init__(self, stream):
        """Lines go to `stream`; None: silent."""
        self.stream = stream
        self.start = time.perf_counter()

    def elapsed(self):
        """Seconds since the log was made."""
        return time.perf_counter() - self.start

    def __call__(self, text):
        """Prints `text` with the elapsed time."""
        if self.stream is not None:
            print(
                f"[{self.elapsed():7.1f}s] {text}", file=self.stream, flush=True
            )
