"""`python3 harness/bench --help`: the benchmark runner's entry point."""
import os
import sys

if not __package__:
    # Run as a directory (python3 harness/bench): make the package importable by name, and
    # keep the package's own directory off the path so that no module shadows the stdlib.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))

from bench.cli import main  # noqa: E402

try:
    sys.exit(main(sys.argv[1:]))
except BrokenPipeError:          # `--dry-run | head`: the reader has seen enough
    sys.stderr.close()
    sys.exit(0)
except KeyboardInterrupt:        # a second Ctrl-C, while the report was being written
    sys.stderr.write("\nbench: interrupted\n")
    sys.exit(130)
