"""Hosts reached over OpenSSH: a command run there, files sent there, one connection each.

Nothing of ours needs to be installed on a host: ssh, rsync, python3 and taskset are what a
Linux box has, and the runner sends the rest (the binaries and this package) into a
directory of its own for the run.

ssh runs in batch mode only (key or agent authentication; a password prompt would hang a
benchmark), with the user's configuration (~/.ssh/config, or --ssh-config), host key
checking included. Each host gets one multiplexed connection (ControlMaster), opened by
open() and shut by close(); the commands of every run share it, so a run does not pay for a
handshake. The master is opened before the runner makes itself the subreaper of orphans
(procs.become_subreaper): it lives in the background, and is not an orphan to sweep.
"""
import os
import shlex
import subprocess
import tempfile


class HostError(Exception):
    """A host that cannot take part: the message is one line naming it and why."""


class Host:
    """One ssh destination ([user@]host, or a name of the ssh configuration)."""

    def __init__(self, dest, role, control_dir, ssh_config=""):
        self.dest = dest
        self.role = role                  # "server", "client 1", ...: for messages
        self.ssh_config = ssh_config
        self.control_path = os.path.join(control_dir, f"{role.replace(' ', '')}-%C")
        self.run_dir = ""                 # the run's directory there, once made

    def __str__(self):
        return self.dest

    def ssh_argv(self, command, master=False):
        """ssh's command line for a shell command run there."""
        argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ControlPath={self.control_path}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6"]
        if self.ssh_config:
            argv += ["-F", self.ssh_config]
        if master:
            argv += ["-o", "ControlMaster=yes", "-o", "ControlPersist=120", "-f", "-N"]
        else:
            argv += ["-o", "ControlMaster=no", "-T"]
        argv.append(self.dest)
        if command:
            argv += ["--", command]
        return argv

    def open(self, timeout=30):
        """Opens the multiplexed connection; HostError if ssh cannot log in."""
        with tempfile.TemporaryFile("w+") as err:
            try:
                p = subprocess.run(self.ssh_argv("", master=True), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise HostError(f"{self.role} host {self.dest}: ssh did not connect within "
                                f"{timeout} s") from None
            if p.returncode != 0:
                err.seek(0)
                raise HostError(f"{self.role} host {self.dest}: ssh failed: "
                                f"{last_line(err.read()) or f'exit {p.returncode}'}")

    def run(self, command, timeout=60, check=True):
        """Runs a shell command there; returns its stdout. HostError if it fails (check)."""
        try:
            p = subprocess.run(self.ssh_argv(command), stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HostError(f"{self.role} host {self.dest}: '{command[:40]}' did not finish "
                            f"within {timeout} s") from None
        if check and p.returncode != 0:
            why = last_line(p.stderr) or f"exit {p.returncode}"
            raise HostError(f"{self.role} host {self.dest}: {why}")
        return p.stdout

    def start(self, command, log):
        """Starts a shell command there, its stdin and stdout piped to us (an agent's
        conversation), its stderr to `log`. Closing its stdin tells it to stop."""
        return subprocess.Popen(self.ssh_argv(command), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)

    def push(self, top, paths, into="", timeout=300):
        """Copies `paths` (relative to `top`) into the run's directory (its subdirectory
        `into`), keeping their relative paths (rsync -R), over the host's connection."""
        rsh = " ".join(shlex.quote(a) for a in self.ssh_argv("")[:-1])
        argv = ["rsync", "-aR", "--exclude=__pycache__", "--rsh", rsh, *paths,
                f"{self.dest}:{self.run_dir}/{into}"]
        try:
            p = subprocess.run(argv, cwd=top, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HostError(f"{self.role} host {self.dest}: rsync did not finish within "
                            f"{timeout} s") from None
        if p.returncode != 0:
            raise HostError(f"{self.role} host {self.dest}: rsync failed: "
                            f"{last_line(p.stderr) or f'exit {p.returncode}'}")

    def hostname(self):
        """The address ssh connects to (its configuration's HostName, resolved by ssh -G)."""
        argv = ["ssh", "-G"] + (["-F", self.ssh_config] if self.ssh_config else []) + [self.dest]
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=10)
        except subprocess.TimeoutExpired:
            return self.dest.rpartition("@")[2]
        for line in p.stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "hostname":
                return value
        return self.dest.rpartition("@")[2]

    def close(self):
        """Removes the run's directory and shuts the connection (errors ignored: a host
        that is gone has nothing left to remove)."""
        if self.run_dir:
            try:
                self.run(f"rm -rf {shlex.quote(self.run_dir)}", timeout=30, check=False)
            except HostError:
                pass
        argv = self.ssh_argv("", master=False)[:-1] + ["-O", "exit", self.dest]
        try:
            subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            pass


def last_line(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else ""
