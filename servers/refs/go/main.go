// ref-go: the reference the green model is measured against: Go's own net/http server,
// written as a Go programmer would, standard library only. Go runs a goroutine per
// connection on M:N threads parked on its netpoller, the design servers/green imitates.
//
// It takes a model's command line, prints a model's start-up line, serves the same routes
// (routes.go) or the echo protocol (echo.go), and stops on SIGINT or SIGTERM with exit code 0.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	name    = "ref-go"
	version = "0.1.0"
	idea    = "Go's net/http: a goroutine per connection, parked on Go's netpoller " +
		"(the runtime servers/green imitates)"
	maxWorkers      = 1024
	defaultMaxConns = 10000
)

type options struct {
	host     string
	port     uint64
	proto    string
	workers  uint64
	maxConns uint64
	idle     time.Duration // 0: never
	header   time.Duration // 0: no limit
}

func printUsage(f *os.File) {
	fmt.Fprintf(f, "usage: %s [--host ADDR] [--port N] [--proto http|echo] [--workers N]\n"+
		"       %*s [--max-conns N] [--idle-timeout SEC] [--header-timeout SEC]\n"+
		"       %*s [--help] [--version]\n",
		name, len(name), "", len(name), "")
}

func printHelp() {
	printUsage(os.Stdout)
	fmt.Printf("\n%s: %s\n\n", name, idea)
	fmt.Printf("  --host ADDR         address to listen on (default 127.0.0.1)\n"+
		"  --port N            TCP port; 0 takes a free one (default 8080)\n"+
		"  --proto http|echo   protocol (default http)\n"+
		"  --workers N         GOMAXPROCS: OS threads running goroutines (default %d, at most %d)\n"+
		"  --max-conns N       connections served at once; more are refused (default %d)\n"+
		"  --idle-timeout SEC  close a connection silent this long; 0: never (default 60)\n"+
		"  --header-timeout SEC  a request head must come within SEC (default 10; 0: never):\n"+
		"                      net/http's ReadHeaderTimeout, with the idle time-out if shorter\n"+
		"  --help, --version\n\n", defaultWorkers(), maxWorkers, defaultMaxConns)
	fmt.Printf("When ready it prints \"listening on ADDR:PORT\"; SIGINT or SIGTERM stops it.\n" +
		"HTTP routes: GET / /plaintext /json /bytes?n= /work?us= /sleep?ms= /block?ms=, " +
		"POST /echo.\n")
}

// A bad command line: one line naming the problem, the usage, exit code 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", name, fmt.Sprintf(format, args...))
	printUsage(os.Stderr)
	os.Exit(2)
}

func defaultWorkers() int {
	n := runtime.NumCPU() // the CPUs this process may run on (its affinity mask)
	if n > maxWorkers {
		n = maxWorkers
	}
	return n
}

// Digits only, as the models take them: no sign, no blanks, no exponent.
func parseUint(opt, arg string, lo, hi uint64) uint64 {
	v, err := strconv.ParseUint(arg, 10, 64)
	if arg == "" || arg[0] < '0' || arg[0] > '9' || err != nil || v < lo || v > hi {
		usageError("%s: '%s' is not a whole number from %d to %d", opt, arg, lo, hi)
	}
	return v
}

// parseOptions reads the command line as the models' getopt_long does: --opt VALUE or
// --opt=VALUE, in any order, and no arguments beside the options.
func parseOptions(args []string) options {
	o := options{host: "127.0.0.1", port: 8080, proto: "http",
		workers: uint64(defaultWorkers()), maxConns: defaultMaxConns, idle: 60 * time.Second,
		header: 10 * time.Second}
	takesValue := map[string]bool{"host": true, "port": true, "proto": true, "workers": true,
		"max-conns": true, "idle-timeout": true, "header-timeout": true, "help": false,
		"version": false}
	var stray []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			stray = append(stray, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			stray = append(stray, arg)
			continue
		}
		if !strings.HasPrefix(arg, "--") {
			usageError("unknown option '-%c'", arg[1])
		}
		opt, value, hasValue := strings.Cut(arg[2:], "=")
		needs, known := takesValue[opt]
		if !known || (hasValue && !needs) {
			usageError("unknown option '%s'", arg)
		}
		if needs && !hasValue {
			if i+1 == len(args) {
				usageError("%s needs a value", arg)
			}
			i++
			value = args[i]
		}
		switch opt {
		case "host":
			o.host = value
		case "port":
			o.port = parseUint("--port", value, 0, 65535)
		case "proto":
			if value != "http" && value != "echo" {
				usageError("--proto: '%s' is not http or echo", value)
			}
			o.proto = value
		case "workers":
			o.workers = parseUint("--workers", value, 1, maxWorkers)
		case "max-conns":
			o.maxConns = parseUint("--max-conns", value, 1, 10000000)
		case "idle-timeout":
			o.idle = time.Duration(parseUint("--idle-timeout", value, 0, 86400)) * time.Second
		case "header-timeout":
			o.header = time.Duration(parseUint("--header-timeout", value, 0, 86400)) * time.Second
		case "help":
			printHelp()
			os.Exit(0)
		case "version":
			fmt.Printf("%s (c10k-lab) %s, %s\n", name, version, runtime.Version())
			os.Exit(0)
		}
	}
	if len(stray) > 0 {
		usageError("unexpected argument '%s'", stray[0])
	}
	return o
}

// limitListener refuses the connections past max at once (x/net/netutil's LimitListener
// would queue them instead): the models' --max-conns.
type limitListener struct {
	net.Listener
	max    int64
	active atomic.Int64
	refuse func(net.Conn)
	warned atomic.Bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.active.Add(1) <= l.max {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.active.Add(-1)
		if !l.warned.Swap(true) {
			fmt.Fprintf(os.Stderr, "%s: at --max-conns; refusing new connections\n", name)
		}
		go l.refuse(c)
	}
}

type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.active.Add(-1) })
	return c.Conn.Close()
}

// refuseHTTP answers a connection the server has no room for with a 503, then closes it
// without a reset: our side shut first, and what the client sent read away.
func refuseHTTP(c net.Conn) {
	body := "503 Service Unavailable: the server is full\n"
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nServer: c10k-lab\r\nDate: %s\r\n"+
		"Content-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		time.Now().UTC().Format(http.TimeFormat), len(body), body)
	refuseEcho(c)
}

func refuseEcho(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var drain [4096]byte
		for i := 0; i < 16; i++ {
			if _, err := c.Read(drain[:]); err != nil {
				break
			}
		}
	}
	c.Close()
}

func listen(o options) net.Listener {
	hostport := net.JoinHostPort(o.host, strconv.FormatUint(o.port, 10))
	addr, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		usageError("--host: '%s' is not an address: %v", o.host, err)
	}
	ln, err := net.ListenTCP("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot listen on %s port %d: %v\n", name, o.host, o.port,
			errors.Unwrap(err))
		os.Exit(1)
	}
	return ln
}

func main() {
	o := parseOptions(os.Args[1:])
	runtime.GOMAXPROCS(int(o.workers))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	inner := listen(o)
	ln := &limitListener{Listener: inner, max: int64(o.maxConns), refuse: refuseHTTP}
	if o.proto == "echo" {
		ln.refuse = refuseEcho
	}
	fmt.Printf("listening on %s (%s, %s, pid %d)\n", inner.Addr(), name, o.proto, os.Getpid())

	if o.proto == "echo" {
		go serveEcho(ln, o.idle)
	} else {
		srv := &http.Server{
			Handler: routes{},
			// A head must come within the idle time-out, and so must the next request:
			// what the models' --idle-timeout means between requests. net/http has one
			// clock for both, from when it starts waiting for a head: the shorter bounds it.
			ReadHeaderTimeout: shorter(o.idle, o.header),
			IdleTimeout:       o.idle,
			MaxHeaderBytes:    8 << 10, // the models' limit on a request head
		}
		go srv.Serve(ln)
	}
	// A stop does not wait for what the connections are doing (a /sleep, a /block, a client
	// that does not read): the listener closes, and the process ends with them all.
	<-stop
	ln.Close()
}

// shorter of two time-outs, where 0 means none.
func shorter(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
