"""System limits that would distort a scenario: found, raised where a process may, explained.

The runner raises only what belongs to its own processes (the open-files limit, inherited by
the servers and generators it starts). It never changes a system setting: for each one that
is too low for the planned runs, it says what it found, what it distorts, and the command
that would raise it. The findings go to limits.txt and into the report.
"""
import resource
from dataclasses import dataclass

from .envinfo import read_text, sysctl

FD_SLACK = 64          # descriptors a server or generator needs besides its connections


@dataclass
class Finding:
    name: str
    value: str
    ok: bool
    note: str              # what it distorts when too low, or what was done
    fix: str = ""          # the command that raises it (not run)


def raise_open_files(need):
    """Raises our RLIMIT_NOFILE (inherited by every child) to `need` if we may: the soft
    limit up to the hard one, the hard one too if we are privileged. Process-local only."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, need)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
    except (ValueError, OSError):          # unprivileged: the hard limit stays
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def check(max_conns, churn, threads_per_conn):
    """Findings for a plan whose largest run opens `max_conns` connections at once, that does
    or does not churn connections, and whose models may run a thread or process per
    connection (`threads_per_conn`)."""
    findings = []
    need_fds = max_conns + FD_SLACK
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = raise_open_files(need_fds)
    raised = f" (raised from {before[0]})" if soft != before[0] else ""
    findings.append(Finding(
        "open files (RLIMIT_NOFILE)", f"{soft} soft, {hard} hard{raised}", soft >= need_fds,
        f"each server and generator needs {need_fds} for {max_conns} connections; with fewer, "
        "connections are refused", f"ulimit -n {need_fds} (as root, or raise the hard limit "
        "in /etc/security/limits.conf)"))

    nr_open = int(sysctl("fs.nr_open", "") or 0)
    if nr_open and nr_open < need_fds:
        findings.append(Finding("fs.nr_open", str(nr_open), False,
                                "caps every process's open-files limit",
                                f"sudo sysctl -w fs.nr_open={need_fds}"))

    for name, what in (("net.core.somaxconn", "the listen queue"),
                       ("net.ipv4.tcp_max_syn_backlog", "half-open connections")):
        value = int(sysctl(name, "") or 0)
        need = min(max_conns, 65535)
        findings.append(Finding(
            name, str(value), value >= need,
            f"caps {what}: a burst of {max_conns} connects beyond it is dropped and retried "
            "after 1 s, which shows up as connect time or errors",
            f"sudo sysctl -w {name}={need}"))

    if threads_per_conn:
        for name in ("kernel.pid_max", "kernel.threads-max"):
            value = int(sysctl(name, "") or 0)
            need = max_conns + 4096       # room for the rest of the machine
            findings.append(Finding(
                name, str(value), value >= need,
                f"a thread or process per connection needs {max_conns} of them",
                f"sudo sysctl -w {name}={need}"))
        maps = int(sysctl("vm.max_map_count", "") or 0)
        need = 2 * max_conns + 4096       # a stack and its guard page per thread
        findings.append(Finding("vm.max_map_count", str(maps), maps >= need,
                                "each thread's stack takes two memory maps",
                                f"sudo sysctl -w vm.max_map_count={need}"))

    if churn:
        lo, hi = (int(v) for v in (sysctl("net.ipv4.ip_local_port_range", "") or "0 0").split())
        reuse = sysctl("net.ipv4.tcp_tw_reuse", "") or "0"
        tw = _time_wait_count()
        findings.append(Finding(
            "net.ipv4.tcp_tw_reuse", reuse, reuse in ("1", "2"),
            f"churn closes a connection per request; each closed port stays in TIME_WAIT for "
            f"60 s ({tw} sockets in TIME_WAIT now). Without reuse the {hi - lo + 1} ephemeral "
            f"ports last {(hi - lo + 1) / 60:.0f} connections/s, then connects fail",
            "sudo sysctl -w net.ipv4.tcp_tw_reuse=1"))
        findings.append(Finding(
            "net.ipv4.ip_local_port_range", f"{lo} {hi}", hi - lo + 1 >= 16384,
            "the ephemeral ports a client can connect from",
            "sudo sysctl -w net.ipv4.ip_local_port_range='1024 65535'"))
    return findings


def _time_wait_count():
    for line in read_text("/proc/net/sockstat", "").splitlines():
        if line.startswith("TCP:"):
            parts = line.split()
            if "tw" in parts:
                return int(parts[parts.index("tw") + 1])
    return 0


def write(findings, path):
    with open(path, "w") as f:
        for x in findings:
            f.write(f"{'ok' if x.ok else 'LOW'}\t{x.name}\t{x.value}\t{x.note}\t"
                    f"{'' if x.ok else x.fix}\n")


def read(path):
    """The findings back from limits.txt (for the report); [] if there is none."""
    found = []
    for line in read_text(path, "").splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            found.append(Finding(parts[1], parts[2], parts[0] == "ok", parts[3], parts[4]))
    return found
