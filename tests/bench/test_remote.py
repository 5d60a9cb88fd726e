"""Unit tests of the benchmark across hosts (harness/bench/remote.py, agent.py, hosts.py)
that need no ssh: how a load is split, how the hosts' figures are merged, how a host is
judged unfit, and the agent driven locally through its stdin and stdout as ssh drives it.
The same across real ssh, on network namespaces: tests/suites/63-remote.sh.
"""
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import unittest.mock

from harness.bench import hosts, remote, tools
from harness.bench.agent import _qdisc
from harness.bench.tools import Load, Measured

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BIN", os.path.join(ROOT, "build", "bin"))


class Split(unittest.TestCase):
    def test_even(self):
        shares = remote.split(Load("wrk", 10), 2)
        self.assertEqual([s.conns for s in shares], [5, 5])

    def test_remainder_and_rate_in_proportion(self):
        shares = remote.split(Load("loadgen", 3, rate=300), 2)
        self.assertEqual([(s.conns, s.rate) for s in shares], [(2, 200), (1, 100)])

    def test_fewer_connections_than_hosts(self):
        shares = remote.split(Load("loadgen", 1), 3)
        self.assertEqual(shares[0].conns, 1)
        self.assertEqual(shares[1:], [None, None])


def flat(value, n):
    """A host whose every request took `value` µs."""
    m = Measured(requests=n, duration_s=1.0, bytes=n * 10,
                 latency_us={"min": value, "mean": value, "max": value})
    m.spectrum = [(0.0, value), (50.0, value), (100.0, value)]
    m.errors["read"] = 1
    return m


class Merge(unittest.TestCase):
    def test_counts_are_sums(self):
        a, b = flat(100, 1000), flat(1000, 3000)
        a.conns_established, b.conns_established = 5, 4
        m = remote.merge([a, b])
        self.assertEqual((m.requests, m.bytes, m.errors["read"]), (4000, 40000, 2))
        self.assertEqual(m.conns_established, 9)
        self.assertEqual(m.latency_us["mean"], (100 * 1000 + 1000 * 3000) / 4000)

    def test_an_unknown_count_stays_unknown(self):
        a, b = flat(100, 10), flat(100, 10)
        a.conns_established = 5
        self.assertIsNone(remote.merge([a, b]).conns_established)

    def test_percentiles_of_the_union(self):
        # A quarter of the requests at 100 µs, three quarters at 1000: the median is 1000,
        # the 20th percentile 100; neither host alone says so.
        m = remote.merge([flat(100, 1000), flat(1000, 3000)])
        self.assertEqual(remote.percentile(m.spectrum, 20), 100)
        self.assertEqual(m.latency_us["p50"], 1000)
        self.assertEqual((m.latency_us["min"], m.latency_us["max"]), (100, 1000))

    def test_identical_hosts_merge_to_the_same_distribution(self):
        spectrum = [(0.0, 10), (50.0, 20), (90.0, 40), (99.0, 80), (100.0, 100)]
        merged = remote.merge_spectra([(spectrum, 500), (spectrum, 500)])
        self.assertEqual(merged, [(p, float(v)) for p, v in merged])
        for p, v in spectrum:
            self.assertEqual(remote.percentile(merged, p), v)

    def test_merged_hgrm_is_read_back(self):
        m = remote.merge([flat(100, 1000), flat(1000, 3000)])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.hgrm")
            tools.write_hgrm(path, m.spectrum, m.requests)
            with open(path) as f:
                back = tools.parse_hgrm(f.read())
        self.assertEqual(remote.percentile(back, 50), 1000)


class HostChecks(unittest.TestCase):
    def host(self):
        return hosts.Host("me@box", "client 2", "/tmp")

    def test_another_architecture(self):
        with self.assertRaises(hosts.HostError) as e:
            remote._check(self.host(), "sparc64\n")
        self.assertIn("client 2 host me@box is sparc64", str(e.exception))

    def test_another_architecture_builds_there(self):
        remote._check(self.host(), "sparc64\n", same_arch=False)   # REMOTE_BUILD: fit

    def test_command_line(self):
        from harness.bench import cli
        for argv in (["--server-host", "a"], ["--client-hosts", "a b"],
                     ["--remote-build"], ["--server-addr", "10.0.0.1"]):
            with self.assertRaises(SystemExit) as e, \
                    unittest.mock.patch("sys.stderr", new_callable=io.StringIO) as err:
                cli.parse(argv, ROOT)
            self.assertEqual(e.exception.code, 2, argv)
            self.assertEqual(len(err.getvalue().splitlines()), 1, argv)

    def test_missing_tools(self):
        import platform
        with self.assertRaises(hosts.HostError) as e:
            remote._check(self.host(), f"{platform.machine()}\nmissing rsync\nmissing taskset\n")
        self.assertIn("lacks rsync, taskset", str(e.exception))
        remote._check(self.host(), f"{platform.machine()}\n")   # fit: no exception

    def test_batch_mode_and_one_connection(self):
        argv = hosts.Host("me@box", "server", "/tmp/c", "cfg").ssh_argv("uname -m")
        self.assertIn("BatchMode=yes", argv)
        self.assertIn("ControlMaster=no", argv)
        self.assertIn("ControlPath=/tmp/c/server-%C", argv)
        self.assertEqual(argv[-3:], ["me@box", "--", "uname -m"])
        self.assertEqual(argv[argv.index("-F") + 1], "cfg")

    def test_qdisc_line(self):
        self.assertEqual(_qdisc("qdisc tbf 8001: root refcnt 3 rate 1Gbit burst 131000b lat 50ms"),
                         "tbf rate 1Gbit burst 131000b lat 50ms")


class Agent(unittest.TestCase):
    """The agent as ssh runs it: in a run directory with bin/, talking over pipes."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="agent-test.")
        os.symlink(os.path.abspath(BIN), os.path.join(self.dir, "bin"))
        self.procs = []

    def start(self, *args):
        proc = subprocess.Popen([sys.executable, "-m", "harness.bench.agent", *args],
                                cwd=self.dir, env=dict(os.environ, PYTHONPATH=ROOT),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                bufsize=1)
        self.procs.append(proc)
        return proc

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        subprocess.run(["rm", "-rf", self.dir])

    def answer(self, proc, line=None):
        if line:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    def test_closing_stdin_stops_the_generator(self):
        proc = self.start("load", "--timeout", "60", "--", "sleep", "31.7")
        self.assertTrue(self.answer(proc)["ready"])
        proc.stdin.write(f"start {time.time():.3f}\n")
        proc.stdin.flush()
        time.sleep(0.5)
        proc.stdin.close()          # the runner is gone
        self.assertEqual(proc.wait(20), 1)
        left = subprocess.run(["pgrep", "-f", "^sleep 31.7$"], capture_output=True,
                              text=True).stdout
        self.assertEqual(left, "")

    def test_load_reports_its_run(self):
        proc = self.start("load", "--timeout", "60", "--", "sh", "-c",
                          "echo out; echo '{}' > @SCRATCH@/out.json")
        self.answer(proc)
        done = self.answer(proc, f"start {time.time():.3f}")
        self.assertEqual((done["exit"], done["stdout"], done["json"]), (0, "out", "{}"))
        proc.stdin.close()
        proc.wait(20)
        self.assertEqual(os.listdir(self.dir), ["bin"])   # its scratch directory is gone

    @unittest.skipUnless(os.access(os.path.join(BIN, "epoll"), os.X_OK), "epoll not built")
    def test_serve_measures_the_server(self):
        proc = self.start("serve", "--target", "epoll", "--proto", "http", "--max-conns", "10",
                          "--host", "127.0.0.1", "--log", "server.log")
        ready = self.answer(proc)
        self.assertGreater(ready["port"], 0)
        self.assertGreaterEqual(ready["base"]["sockets"], 1)    # its listening socket
        proc.stdin.write("sample 0.1\n")
        samples = self.answer(proc, "samples")["samples"]
        self.assertGreaterEqual(samples[-1]["threads"], 1)
        stopped = self.answer(proc, "stop 10")
        self.assertEqual(stopped["problem"], "")
        self.assertIn("listening on 127.0.0.1:", stopped["log"])
        self.assertGreaterEqual(stopped["rusage"]["ru_nvcsw"], 0)
        self.assertEqual(proc.wait(20), 0)


if __name__ == "__main__":
    unittest.main()
