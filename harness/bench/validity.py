"""When a run's figures cannot be trusted, and why.

A run is invalid when what it measured is not the server:
- the load generator was the bottleneck: its cores were saturated while the server's were
  not (both saturated is a fair fight: the server is as busy as it can be);
- fewer connections were established than asked (or, for idle connections, fewer held by
  the server, as counted from its own sockets);
- an open-loop run missed its rate: the schedule was not kept, so the latency of what was
  sent is not the latency at the offered load (past a model's capacity the queue grows
  with the run's length, and the figure means nothing);
- errors the scenario does not expect;
- the tool or the server failed (no summary, no request answered, a server that would not
  stop, so that its rusage would miss what its children did).
A point whose stream's fate is the result (slowclients: does the normal client still get
served?) is judged on the last one only: its errors, refusals and missed rate are figures.
"""

from .tools import ERROR_KINDS

GEN_SATURATED = 0.90      # the generator's busy share of its cores, from its rusage
SERVER_SATURATED = 0.80   # the server's, on the cores it could use
RATE_KEPT = 0.95          # an open-loop run must achieve this share of its target rate


def _pct(x):
    return f"{100 * x:.0f}%"


def judge(row, point, problems=()):
    """The reasons why this run (a results.Row) is invalid; [] for a valid run. `problems`:
    failures found while running it (a tool that printed nothing, a server that would not
    stop)."""
    reasons = list(problems)
    idle = point.loads[0].idle              # the measured stream holds, and sends nothing
    if not idle and not point.outcome and not row.requests:
        reasons.append("no request was answered")

    gen, server = row.gen_busy, row.server_busy
    if not idle and not point.generator_bound and gen is not None and server is not None:
        if gen >= GEN_SATURATED and server < SERVER_SATURATED:
            reasons.append(f"the load generator was the bottleneck: {_pct(gen)} busy while "
                           f"the server was {_pct(server)} busy")
    if point.outcome:
        return reasons

    asked, established = row.conns, row.conns_established
    if established is not None and asked and established < asked:
        reasons.append(f"only {established} of {asked} connections were established")
    held = point.conns if any(load.idle for load in point.loads) else 0
    if held and (row.server_conns or 0) < held:
        reasons.append(f"the server held only {row.server_conns or 0} of {held} connections")
    if row.listen_queue_end:
        # Established by the kernel, never taken by the server: their requests went
        # unanswered, and no latency figure shows them.
        reasons.append(f"{row.listen_queue_end} connections established were never accepted: "
                       f"still in the server's listen queue when the load ended (up to "
                       f"{row.listen_queue_peak or 0} waited at once; it accepts slower than "
                       f"the connects arrive)")

    target, achieved = row.target_rate, row.achieved_rate
    if target and (achieved or 0) < RATE_KEPT * target:
        who = ("the server was saturated" if (server or 0) >= SERVER_SATURATED else
               "the load generator was saturated" if (gen or 0) >= GEN_SATURATED else
               "neither side was CPU-bound: other load on the machine, or too few "
               "connections for the latency")
        reasons.append(f"open loop missed its rate: {achieved or 0:,.0f} of {target:,.0f} req/s "
                       f"({who})")

    errors = ", ".join(f"{row.error(kind)} {kind}" for kind in ERROR_KINDS
                       if kind not in point.expected_errors and row.error(kind))
    if errors:
        reasons.append(f"errors: {errors}")
    return reasons
