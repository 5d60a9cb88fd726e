"""Running a command to its end, bounded: the binary's command line, curl, ab."""
import subprocess

from check import Fail
from fixture import Spawned, Stopping


def run(cmd, timeout, what=None):
    """Runs cmd (in its own process group) and returns (exit code, stdout, stderr) as text.
    Past timeout it is killed, with anything it started, and the case fails."""
    try:
        run = Spawned(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    except Stopping as e:
        raise Fail(str(e))
    try:
        out, err = run.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.kill()
        raise Fail(f"{what or ' '.join(cmd)}: still running after {timeout:.0f} s")
    run.kill()   # its process group: anything it left behind
    return run.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
