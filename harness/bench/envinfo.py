"""env.txt: what the results were measured on, as "key: value" lines.

The report reads it back (read()), so a results directory copied elsewhere (results/reference)
still says which machine, core split, tools and commit its figures belong to.
"""
import os
import platform
import shutil
import subprocess

SYSCTLS = ["net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.ip_local_port_range",
           "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_fin_timeout", "kernel.pid_max",
           "kernel.threads-max", "vm.max_map_count", "fs.file-max", "fs.nr_open"]


def first_line(argv):
    """The first line a program prints about itself, or "not found"."""
    if not shutil.which(argv[0]) and not os.path.exists(argv[0]):
        return "not found"
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (p.stdout + p.stderr).strip().splitlines()
    # "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer": the version is enough.
    return lines[0].split(" Copyright")[0].strip() if lines else "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_text(path, default="n/a"):
    """A small file's text, stripped, or `default` if it cannot be read."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def sysctl(name, default="n/a"):
    """A sysctl's value by its dotted name, from /proc/sys."""
    return read_text("/proc/sys/" + name.replace(".", "/"), default)


def _git(root, *args):
    try:
        p = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10)
        return p.stdout.strip() if p.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def collect(root, cfg, server_cpus, client_cpus, split_note, tools):
    """The environment as an ordered list of (key, value)."""
    import resource
    from .cpus import to_text
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    commit = _git(root, "rev-parse", "--short=12", "HEAD") or "unknown"
    if _git(root, "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    env = [
        ("host", platform.node()),
        ("cpu", cpu_model()),
        ("cpus online", str(os.cpu_count())),
        ("cpus usable", to_text(sorted(os.sched_getaffinity(0)))),
        ("server cpus", to_text(server_cpus)),
        ("client cpus", to_text(client_cpus)),
        ("core split note", split_note or "disjoint"),
        ("cpu governor", read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")),
        ("memory", meminfo_total()),
        ("kernel", " ".join(platform.uname()[2:4])),
        ("os", os_name()),
        ("compiler", first_line([os.environ.get("CC", "cc"), "--version"])),
        ("gcc", first_line(["gcc", "--version"])),
        ("clang", first_line(["clang", "--version"])),
        ("python", platform.python_version()),
        ("wrk", first_line([tools["wrk"], "-v"])),
        ("loadgen", first_line([tools["loadgen"], "--version"])),
        ("gnuplot", first_line(["gnuplot", "--version"])),
        ("commit", commit),
        ("open files", f"{soft} soft, {hard} hard"),
    ]
    env += [(name, sysctl(name).replace("\t", " ")) for name in SYSCTLS]
    env += [("profile", cfg.profile), ("models", " ".join(cfg.models)),
            ("scenarios", " ".join(cfg.scenarios)), ("duration s", f"{cfg.duration:g}"),
            ("warmup s", f"{cfg.warmup:g}"), ("repetitions", str(cfg.reps))]
    return env


def meminfo_total():
    for line in read_text("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1048576:.1f} GiB"
    return "unknown"


def os_name():
    for line in read_text("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def write(path, env):
    with open(path, "w") as f:
        for key, value in env:
            f.write(f"{key}: {value}\n")


def read(path):
    """env.txt back as a dict (insertion-ordered)."""
    env = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.rstrip("\n").partition(": ")
                if sep:
                    env[key] = value
    except OSError:
        pass
    return env
