"""`python3 -m harness.bench --help` (from the repository's top): the runner's entry point."""
import sys

from .cli import main

try:
    sys.exit(main(sys.argv[1:]))
except BrokenPipeError:          # `--dry-run | head`: the reader has seen enough
    sys.stderr.close()
    sys.exit(0)
except KeyboardInterrupt:        # a second Ctrl-C, while the report was being written
    sys.stderr.write("\nbench: interrupted\n")
    sys.exit(130)
