// The HTTP routes, with the models' semantics (servers/core/routes.h):
//
//	GET /, /plaintext   "Hello, World!"
//	GET /json           {"message":"Hello, World!"}, encoded per request
//	POST /echo          the request body back (read whole first: see echoBody)
//	GET /bytes?n=N      N bytes of the pattern (N <= 64 MiB), written as the client reads
//	GET /work?us=N      N microseconds of CPU on the serving thread (N <= 1,000,000)
//	GET /sleep?ms=N     an answer after N ms, a timer the goroutine waits on (N <= 60,000)
//	GET /block?ms=N     a blocking system call of N ms (N <= 60,000): the runtime hands the
//	                    thread's other goroutines to another thread while it blocks
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const maxBody = 16 << 20 // the models' one limit on a request body (413 above it)

type route int

const (
	routePlaintext route = iota
	routeJSON
	routeEcho
	routeBytes
	routeWork
	routeSleep
	routeBlock
)

type routeEntry struct {
	route route
	post  bool   // POST only; otherwise GET and HEAD
	param string // the query parameter it needs, or ""
	max   uint64
}

var routeTable = map[string]routeEntry{
	"/":          {route: routePlaintext},
	"/plaintext": {route: routePlaintext},
	"/json":      {route: routeJSON},
	"/echo":      {route: routeEcho, post: true},
	"/bytes":     {route: routeBytes, param: "n", max: 64 << 20},
	"/work":      {route: routeWork, param: "us", max: 1000000},
	"/sleep":     {route: routeSleep, param: "ms", max: 60000},
	"/block":     {route: routeBlock, param: "ms", max: 60000},
}

const noSuchPath = "no such path; try /, /json, /echo, /bytes?n=, /work?us=, /sleep?ms=, /block?ms="

type routes struct{}

func (routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "c10k-lab")
	if r.ContentLength > maxBody {
		w.Header().Set("Connection", "close")
		answerError(w, http.StatusRequestEntityTooLarge, "")
		return
	}
	e, ok := routeTable[r.URL.Path]
	if !ok {
		answerError(w, http.StatusNotFound, noSuchPath)
		return
	}
	allowed := r.Method == http.MethodGet || r.Method == http.MethodHead
	allow, why := "GET, HEAD", "use GET or HEAD"
	if e.post {
		allowed = r.Method == http.MethodPost
		allow, why = "POST", "use POST"
	}
	if !allowed {
		w.Header().Set("Allow", allow)
		answerError(w, http.StatusMethodNotAllowed, why)
		return
	}
	n, ok := param(r.URL.RawQuery, e.param, e.max)
	if !ok {
		answerError(w, http.StatusBadRequest,
			fmt.Sprintf("%s must be a whole number from 0 to %d", e.param, e.max))
		return
	}
	// Like the models, a request's body is read whole before it is answered, so that a
	// malformed or oversized one gets its 400 or 413 (and Expect: 100-continue its 100).
	body, ok := readBody(w, r, e.route == routeEcho)
	if !ok {
		return
	}
	switch e.route {
	case routePlaintext:
		answer(w, "text/plain", "Hello, World!")
	case routeJSON:
		msg, _ := json.Marshal(struct {
			Message string `json:"message"`
		}{"Hello, World!"})
		w.Header().Set("Content-Type", "application/json")
		w.Write(msg)
	case routeEcho:
		echoBody(w, r, body)
	case routeBytes:
		writeBytes(w, r, n)
	case routeWork:
		burnCPU(time.Duration(n) * time.Microsecond)
		answer(w, "text/plain", fmt.Sprintf("worked %d us\n", n))
	case routeSleep:
		t := time.NewTimer(time.Duration(n) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client went away
			t.Stop()
			return
		}
		answer(w, "text/plain", fmt.Sprintf("slept %d ms\n", n))
	case routeBlock:
		block(time.Duration(n) * time.Millisecond)
		answer(w, "text/plain", fmt.Sprintf("blocked %d ms\n", n))
	}
}

// net/http writes Content-Length itself for a short answer made whole by the handler.
func answer(w http.ResponseWriter, ctype, body string) {
	w.Header().Set("Content-Type", ctype)
	io.WriteString(w, body)
}

// "404 Not Found: why\n", as the models word it.
func answerError(w http.ResponseWriter, status int, why string) {
	body := fmt.Sprintf("%d %s\n", status, http.StatusText(status))
	if why != "" {
		body = fmt.Sprintf("%d %s: %s\n", status, http.StatusText(status), why)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// param finds name=DIGITS in the raw query: digits only, at most max. No name: no param.
func param(query, name string, max uint64) (uint64, bool) {
	if name == "" {
		return 0, true
	}
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		key, value, found := strings.Cut(pair, "=")
		if !found || key != name {
			continue
		}
		v, err := strconv.ParseUint(value, 10, 64)
		ok := err == nil && value != "" && value[0] >= '0' && value[0] <= '9' && v <= max
		return v, ok
	}
	return 0, false
}

// readBody reads the request's body, at most maxBody bytes: kept for /echo, dropped
// otherwise. On a malformed or oversized body it answers 400 or 413 and returns false.
func readBody(w http.ResponseWriter, r *http.Request, keep bool) ([]byte, bool) {
	if r.ContentLength == 0 {
		return nil, true
	}
	limited := http.MaxBytesReader(w, r.Body, maxBody)
	var body []byte
	var err error
	if keep {
		body, err = io.ReadAll(limited)
	} else {
		_, err = io.Copy(io.Discard, limited)
	}
	if err == nil {
		return body, true
	}
	var tooBig *http.MaxBytesError
	w.Header().Set("Connection", "close")
	if errors.As(err, &tooBig) {
		answerError(w, http.StatusRequestEntityTooLarge, "")
	} else {
		answerError(w, http.StatusBadRequest, "")
	}
	return nil, false
}

// echoBody sends the body back framed as it came: a chunked request gets a chunked answer.
// It was read whole first: an HTTP/1.x handler of net/http cannot read its request's body
// once the answer has started, so the echo cannot stream it back as it comes.
func echoBody(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.ContentLength < 0 {
		w.Header().Set("Transfer-Encoding", "chunked")
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.Write(body)
}

// 63 visible characters and a newline (servers/core/response.c): a byte of /bytes can be
// checked from its offset. The buffer holds whole periods, so each write goes on from the last.
var pattern = []byte(strings.Repeat(
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-\n", 512))

func writeBytes(w http.ResponseWriter, r *http.Request, n uint64) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatUint(n, 10))
	if r.Method == http.MethodHead {
		return
	}
	for n > 0 {
		k := uint64(len(pattern))
		if k > n {
			k = n
		}
		if _, err := w.Write(pattern[:k]); err != nil {
			return
		}
		n -= k
	}
}

func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime,
		uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// burnCPU spins until this goroutine's thread has used d of CPU (not of wall time: on a busy
// machine the request still costs exactly d). The goroutine keeps its thread meanwhile, so
// that the thread's CPU clock is its own.
func burnCPU(d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	until := threadCPU() + d
	sink := 0
	for threadCPU() < until {
		for i := 0; i < 256; i++ {
			sink += i
		}
	}
	_ = sink
}

// block sleeps in the kernel (nanosleep(2)), holding its OS thread as a slow disk read
// would. Go's runtime notices the thread is stuck in a system call and hands its other
// goroutines to another thread. A stop does not wait for it: the process just ends.
func block(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var left syscall.Timespec
		if err := syscall.Nanosleep(&ts, &left); err != syscall.EINTR {
			return
		}
		ts = left
	}
}
