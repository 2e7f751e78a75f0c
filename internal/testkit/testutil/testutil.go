// Package testutil holds small helpers for tests: polling for a condition
// that becomes true eventually, instead of sleeping and hoping, free ports,
// and a TCP proxy that cuts the routes between cluster nodes on demand
// (Proxy, Mesh).
//
// It does not start Parley servers or XMPP clients (see testserver and
// xmppclient).
package testutil

import (
	"testing"
	"time"
)

// pollInterval is how often Eventually checks its condition.
const pollInterval = 5 * time.Millisecond

// Eventually calls fn until it returns true, and fails the test if it has
// not by the time timeout has passed. fn runs on the calling goroutine.
func Eventually(t testing.TB, timeout time.Duration, fn func() bool) {
	t.Helper()
	if !Poll(timeout, fn) {
		t.Fatalf("condition not met within %v", timeout)
	}
}

// Poll calls fn until it returns true or timeout has passed, and reports
// whether it did.
func Poll(timeout time.Duration, fn func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if fn() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}
