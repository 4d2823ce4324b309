package testutil

import (
	"net"
	"sync"
	"testing"
)

// handedOut is every address FreeAddr has returned in this process: the
// kernel may hand a port that was just closed to the next caller, and two
// parallel tests whose servers share a port see each other's server.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// FreeAddr returns a loopback address with a port nothing listens on now
// and that no earlier call in this process returned. Another process (or
// an outgoing connection) may still take it before the caller binds it: a
// caller that starts a server on it should check the server is its own.
func FreeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}
