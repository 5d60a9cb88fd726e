// --proto echo: every byte back, in order, with net and a goroutine per connection.
package main

import (
	"errors"
	"net"
	"time"
)

func serveEcho(ln net.Listener, idle time.Duration) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of descriptors, say: wait a little, as net/http does
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go echo(c, idle)
	}
}

// echo writes back each read before it reads again: a client that does not read stops
// being read (back-pressure). Silence longer than idle, in either direction, ends it.
func echo(c net.Conn, idle time.Duration) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	for {
		if idle > 0 {
			c.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := c.Read(buf)
		if n > 0 {
			if idle > 0 {
				c.SetWriteDeadline(time.Now().Add(idle))
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // at EOF, what was read has gone back: close, and the client sees EOF
			return
		}
	}
}
