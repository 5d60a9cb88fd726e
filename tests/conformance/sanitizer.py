"""A sanitizer's report, read from a server's stderr and said in one line: what it found and
where in the project's own code, e.g.

  ThreadSanitizer: data race in start_thread (servers/mythread.c:57), against
  serve_thread (servers/mythread.c:49)

The report's first line alone ("WARNING: ThreadSanitizer: data race (pid=8050)") says what,
never where; the where is in the stack traces below it, whose first frames are often in libc
or in the sanitizer's own interceptors. The whole report goes to a file the line names.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The line that starts a report, and what it found: "ERROR: AddressSanitizer: heap-use-after-
# free on address ...", "WARNING: ThreadSanitizer: data race (pid=1)", UBSan's
# "servers/x.c:12:5: runtime error: index 1500 out of bounds ...".
HEADLINE = re.compile(r"(?:ERROR|WARNING): (\w+Sanitizer): ([^(]*?)(?: on (?:unknown )?address| \(|$)")
UBSAN = re.compile(r"^(\S+?):(\d+):\d+: runtime error: (.*)$")
# A stack frame: ASan and UBSan "#1 0x55d0c in func /src/servers/x.c:12:5", TSan
# "#1 func servers/x.c:12 (x+0x283a)".
FRAME = re.compile(r"^\s*#\d+ (?:0x[0-9a-f]+ in )?(\S+) (\S+?):(\d+)(?::\d+)?(?: \(|$)")
MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
         "runtime error:")
# A data race names two accesses; each is worth naming. Other reports: one stack says it.
TWO_STACKS = ("data race",)


def project_file(path):
    """path relative to the repository if it is one of the project's sources, else None."""
    full = path if os.path.isabs(path) else os.path.join(ROOT, path)
    rel = os.path.relpath(os.path.realpath(full), ROOT)
    if rel.startswith("..") or not os.path.isfile(os.path.join(ROOT, rel)):
        return None
    return rel


def stacks(lines):
    """The report's stack traces, each a list of (function, file, line), in order."""
    found, current = [], []
    for line in lines:
        m = FRAME.match(line)
        if m:
            current.append(m.groups())
        elif current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


def where(stack, own):
    """'func (file:line)' for the first frame in the project's code; when that is not in
    the model's own file `own` (the core, say), also the first frame that is."""
    ours = [(f, p, n) for f, p, n in ((f, project_file(p), n) for f, p, n in stack) if p]
    if not ours:
        return None
    func, path, line = ours[0]
    said = f"{func} ({path}:{line})"
    if path != own:
        mine = next(((f, p, n) for f, p, n in ours if p == own), None)
        if mine:
            said += f", called from {mine[0]} ({mine[1]}:{mine[2]})"
    return said


def summary(lines, own):
    """One line for the first report in lines (a server's stderr), or None if there is none.
    own: the model's source file (servers/NAME.c), named when the first frame is elsewhere."""
    starts = [i for i, line in enumerate(lines) if any(m in line for m in MARKS)]
    if not starts:
        return None
    first = lines[starts[0]].strip()
    body = lines[starts[0] + 1:starts[1] if len(starts) > 1 else len(lines)]
    m = UBSAN.search(first)
    if m:
        # Its stack comes only with print_stacktrace=1, and after the line: it may be cut off.
        places = stacks(body)
        place = where(places[0], own) if places else None
        path = project_file(m.group(1)) or m.group(1)
        said = f"UndefinedBehaviorSanitizer: {m.group(3)} " + \
               (f"in {place}" if place else f"at {path}:{m.group(2)}")
    else:
        h = HEADLINE.search(first)
        what = f"{h.group(1)}: {h.group(2).strip()}" if h else first
        places = [p for p in (where(s, own) for s in stacks(body)) if p]
        if not places:
            said = f"{what} (no frame in the project's code; see the report)"
        elif any(kind in what for kind in TWO_STACKS) and len(places) > 1:
            said = f"{what} in {places[0]}, against {places[1]}"
        else:
            said = f"{what} in {places[0]}"
    more = len(starts) - 1
    return said + (f" (and {more} more report{'s' * (more > 1)})" if more else "")
