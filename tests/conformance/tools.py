"""Running a command to its end, bounded: the binary's command line, curl, ab."""
import os
import signal
import subprocess

from check import Fail


def run(cmd, timeout, what=None):
    """Runs cmd (in its own process group) and returns (exit code, stdout, stderr) as text.
    Past timeout it is killed, with anything it started, and the case fails."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise Fail(f"{what or ' '.join(cmd)}: still running after {timeout:.0f} s")
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")
