// Package bench is the load tool behind `parley bench`. It registers
// accounts, logs them in and holds the connections open, then measures
// login rate, server memory per idle connection, closed-loop message
// throughput and open-loop end-to-end latency, with the CPU time of the
// server and of the tool itself in every phase.
//
// It speaks only standard XMPP over plain TCP (RFC 6120 and 6121, XEP-0077
// registration, XEP-0199 ping answers), so the same run compares Parley
// with ejabberd or Prosody. Idle connections cost no goroutine: only the
// clients taking part in the traffic phases run a reader.
//
// It does not do TLS, start, configure or tune servers, or judge results:
// it reports numbers and the evidence (losses, duplicates, errors) needed
// to trust them.
package bench
