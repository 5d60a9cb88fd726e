"""CPU lists as taskset writes them ("0-1,4"), and the default split of the machine's cores.

The server and the load generator get disjoint cores by default, so that neither steals
cycles from the other and the generator's own CPU use can be judged (a saturated generator
makes a run invalid). The generator gets the larger half: at equal cost per request it is the
one that runs out first.
"""
import os


def parse(text):
    """ "0-2,5" -> [0, 1, 2, 5]. Raises ValueError with a readable message."""
    cpus = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"'{text}' is not a CPU list like 0-1,3")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"'{part}' is a backwards range")
        cpus.update(range(first, last + 1))
    if not cpus:
        raise ValueError("empty CPU list")
    return sorted(cpus)


def to_text(cpus):
    """[0, 1, 2, 5] -> "0-2,5"."""
    ranges, cpus = [], sorted(cpus)
    start = prev = cpus[0]
    for c in cpus[1:] + [None]:
        if c is not None and c == prev + 1:
            prev = c
            continue
        ranges.append(f"{start}" if start == prev else f"{start}-{prev}")
        if c is not None:
            start = prev = c
    return ",".join(ranges)


def available():
    return sorted(os.sched_getaffinity(0))


def split(server_text=None, client_text=None):
    """The (server, client) CPU lists from the user's choice and the default split.

    Returns (server, client, note): note says what is unusual about the split, or "".
    """
    usable = available()
    if server_text:
        server = parse(server_text)
    else:
        server = usable[: max(1, len(usable) // 2)]
    if client_text:
        client = parse(client_text)
    else:
        client = [c for c in usable if c not in server] or usable
    for name, cpus in (("SERVER_CPUS", server), ("CLIENT_CPUS", client)):
        missing = [c for c in cpus if c not in usable]
        if missing:
            raise ValueError(f"{name}: CPU {to_text(missing)} is not available "
                             f"(this process may use {to_text(usable)})")
    note = ""
    if set(server) & set(client):
        note = ("server and load generator share CPU " + to_text(sorted(set(server) & set(client)))
                + ": they compete, and the generator's saturation cannot be judged fairly")
    return server, client, note
