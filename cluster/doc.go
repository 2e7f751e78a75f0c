// Package cluster is node membership for a Parley cluster: which nodes are
// alive, their version and session count, and events when a node joins,
// leaves cleanly or dies. Nodes talk over NATS: by default every node embeds
// a nats-server and the embedded servers form a NATS cluster through routes;
// a deployment may instead point every node at an external NATS cluster.
//
// Each node publishes a heartbeat every Config.Heartbeat; a node not heard
// from for Config.DeadAfter is declared dead, and a node that shuts down
// cleanly says so and is dropped at once. A node declared dead that is heard
// again (a healed partition) is Joined again, marked Event.Returned.
// DESIGN.md beside this file has the details and the behaviour under
// partitions.
//
// It does not route stanzas or keep a session directory (package
// cluster/directory does, and resynchronises after a partition); those
// build on Node.Conn and Node.Watch. The embedded NATS server's routes
// are authenticated by Config.Secret and/or mutually authenticated TLS
// (Config.RouteTLS); with neither, they must only be reachable on a
// private network.
package cluster
