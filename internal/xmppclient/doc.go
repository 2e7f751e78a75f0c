// Package xmppclient is a small XMPP client (RFC 6120) for Parley's own
// tests and for the load tool `parley bench`.
//
// It connects, negotiates STARTTLS or direct TLS, SASL (SCRAM-SHA-1,
// SCRAM-SHA-256, their -PLUS variants with tls-exporter or
// tls-server-end-point channel binding, and PLAIN) and resource binding, and
// then sends and reads top-level elements. It can stop after any stage and
// send arbitrary bytes, so tests can probe the server with bad input.
//
// It is built to be held by the ten thousand in one process: a Client owns
// one parser and no goroutine; write buffers are borrowed only while
// writing. Reading is the caller's job (Next, Expect, Request), unless it
// asks for a reader goroutine with StartReader.
//
// It does not do stream management, reconnection, roster or presence
// bookkeeping, service discovery or DNS SRV lookups: callers build those
// stanzas themselves.
package xmppclient
