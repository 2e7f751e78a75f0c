package config

import "time"

// Config is the whole of Parley's configuration. Build it with Default or
// Load, and check it with Validate before use.
type Config struct {
	Hosts    []string `yaml:"hosts" env:"HOSTS"` // virtual hosts served, as domain JIDs
	LogLevel string   `yaml:"log_level" env:"LOG_LEVEL"`
	DataDir  string   `yaml:"data_dir" env:"DATA_DIR"`
	// ControlSocket is the Unix socket `parley drain` talks to; empty
	// means <data_dir>/parley.sock.
	ControlSocket string       `yaml:"control_socket" env:"CONTROL_SOCKET"`
	Listeners     Listeners    `yaml:"listeners" envPrefix:"LISTENERS_"`
	TLS           TLS          `yaml:"tls" envPrefix:"TLS_"`
	Storage       Storage      `yaml:"storage" envPrefix:"STORAGE_"`
	Auth          Auth         `yaml:"auth" envPrefix:"AUTH_"`
	Registration  Registration `yaml:"registration" envPrefix:"REGISTRATION_"`
	Limits        Limits       `yaml:"limits" envPrefix:"LIMITS_"`
	Cluster       Cluster      `yaml:"cluster" envPrefix:"CLUSTER_"`
	Debug         Debug        `yaml:"debug" envPrefix:"DEBUG_"`
	// Components are the external components (XEP-0114) allowed to
	// connect to listeners.component. In the environment:
	// PARLEY_COMPONENTS=push.example.com=secret1,other.example.com=secret2.
	Components []Component `yaml:"components" env:"COMPONENTS"`
	Push       Push        `yaml:"push" envPrefix:"PUSH_"`

	StreamManagement StreamManagement `yaml:"stream_management" envPrefix:"STREAM_MANAGEMENT_"`
	Archive          Archive          `yaml:"archive" envPrefix:"ARCHIVE_"`
	API              API              `yaml:"api" envPrefix:"API_"`     // the admin REST API (api.go)
	Admin            Admin            `yaml:"admin" envPrefix:"ADMIN_"` // the admin dashboard (admin.go)
}

// Archive configures the message archive (XEP-0313).
type Archive struct {
	// Enabled archives each chat and normal message for its local sender
	// and recipient before delivering it, and serves MAM queries. Off: no
	// archive, no stanza-ids (XEP-0359), no MAM, and a resumable session
	// survives only on the node holding it (takeover replays the archive).
	Enabled bool `yaml:"enabled" env:"ENABLED"`
}

// StreamManagement configures XEP-0198: acknowledgements, and resumption
// of a session whose connection broke.
type StreamManagement struct {
	Enabled       bool          `yaml:"enabled" env:"ENABLED"`
	ResumeTimeout time.Duration `yaml:"resume_timeout" env:"RESUME_TIMEOUT"` // how long a broken session waits for its client; 0: no resumption
	MaxUnacked    int           `yaml:"max_unacked" env:"MAX_UNACKED"`       // stanzas a client may leave unacknowledged
}

// Component is one external component (XEP-0114): the domain it serves
// and the secret of its handshake.
type Component struct {
	Domain string `yaml:"domain"`
	Secret string `yaml:"secret"`
}

// Push configures the push notifications (XEP-0357) sent to the app
// servers users register.
type Push struct {
	// IncludeBody puts the message body in notifications. Off by default:
	// the body then passes through the app server and the platform's push
	// service, third parties the user may not trust with it.
	IncludeBody bool `yaml:"include_body" env:"INCLUDE_BODY"`
}

// Debug holds tools for developers and for operators chasing a problem.
type Debug struct {
	// PprofAddress, when set, serves Go's profiler (net/http/pprof) on its
	// own listener, e.g. 127.0.0.1:6060. Keep it on loopback: profiles
	// show what the server is doing.
	PprofAddress string `yaml:"pprof_address" env:"PPROF_ADDRESS"`
}

// Cluster makes this server one node of a cluster (see docs/cluster.md).
// With NodeName empty the server runs alone.
type Cluster struct {
	NodeName string   `yaml:"node_name" env:"NODE_NAME"` // unique per node; "" = not clustered
	Listen   string   `yaml:"listen" env:"LISTEN"`       // embedded NATS route listener, host:port
	Peers    []string `yaml:"peers" env:"PEERS"`         // other nodes' route URLs, nats://host:port
	Secret   string   `yaml:"secret" env:"SECRET"`       // shared by every node; required to join the routes
	// Route TLS: each node's certificate and key, and the CA that issued
	// every node's; nodes then talk over mutually authenticated TLS.
	TLSCert   string        `yaml:"tls_cert" env:"TLS_CERT"`
	TLSKey    string        `yaml:"tls_key" env:"TLS_KEY"`
	TLSCA     string        `yaml:"tls_ca" env:"TLS_CA"`
	NATSURL   string        `yaml:"nats_url" env:"NATS_URL"`     // an external NATS cluster instead of the embedded one
	Heartbeat time.Duration `yaml:"heartbeat" env:"HEARTBEAT"`   // how often a node announces itself
	DeadAfter time.Duration `yaml:"dead_after" env:"DEAD_AFTER"` // silence after which a node is dead
	// MaxClockSkew bounds how far the nodes' clocks may disagree: a
	// session taken over from a lost node is replayed from the archive
	// from its acknowledged mark less this (stanza-ids sort by the clock
	// of the node that archived them).
	MaxClockSkew time.Duration `yaml:"max_clock_skew" env:"MAX_CLOCK_SKEW"`

	// Drain (parley drain, SIGTERM): clients are sent to another node's
	// advertised address with see-other-host, or, where a node advertises
	// none, their streams are closed cleanly so they reconnect through the
	// load balancer or DNS SRV.
	ClientAddress    string        `yaml:"client_address" env:"CLIENT_ADDRESS"`         // host:port clients can reach this node at (STARTTLS)
	ClientTLSAddress string        `yaml:"client_tls_address" env:"CLIENT_TLS_ADDRESS"` // the same for direct TLS
	DrainRate        int           `yaml:"drain_rate" env:"DRAIN_RATE"`                 // clients moved per second
	DrainTimeout     time.Duration `yaml:"drain_timeout" env:"DRAIN_TIMEOUT"`           // then the rest are cut and the node exits
}

// Enabled reports whether the server is a cluster node.
func (c Cluster) Enabled() bool { return c.NodeName != "" }

// Listeners are the sockets Parley accepts on. An empty address disables one.
type Listeners struct {
	C2S    C2SListener  `yaml:"c2s" envPrefix:"C2S_"`
	C2STLS Listener     `yaml:"c2s_tls" envPrefix:"C2S_TLS_"` // XEP-0368 direct TLS
	HTTP   HTTPListener `yaml:"http" envPrefix:"HTTP_"`
	// Component accepts external components (XEP-0114); keep it on
	// loopback or a private network.
	Component Listener `yaml:"component" envPrefix:"COMPONENT_"`
}

// Listener is a TCP listen address in host:port form.
type Listener struct {
	Address string `yaml:"address" env:"ADDRESS"`
}

// HTTPListener serves health, metrics and XMPP over WebSocket (RFC 7395)
// at /xmpp-websocket.
type HTTPListener struct {
	Address string `yaml:"address" env:"ADDRESS"`
	// TrustedProxies are the networks (CIDR) of reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies" env:"TRUSTED_PROXIES"`
	// PublicURL is how browsers reach this listener (https://chat.example.com),
	// for XEP-0156 host-meta; empty: taken from each request.
	PublicURL string `yaml:"public_url" env:"PUBLIC_URL"`
	// WebSocketOrigins are web origins (host patterns) allowed to open a
	// WebSocket besides the listener's own.
	WebSocketOrigins []string `yaml:"websocket_origins" env:"WEBSOCKET_ORIGINS"`
	// WebDir holds the browser side (the repository's web/ directory,
	// after npm ci there): the web chat at / and the admin dashboard at
	// /admin.
	WebDir string `yaml:"web_dir" env:"WEB_DIR"`
}

// C2SListener is the client listener that negotiates STARTTLS.
type C2SListener struct {
	Address          string `yaml:"address" env:"ADDRESS"`
	StartTLSRequired bool   `yaml:"starttls_required" env:"STARTTLS_REQUIRED"`
}

// TLS names the certificate; when Cert and Key are empty a self-signed pair
// is generated in the data directory (see Config.TLSFiles).
type TLS struct {
	Cert       string `yaml:"cert" env:"CERT"` // PEM file
	Key        string `yaml:"key" env:"KEY"`   // PEM file
	MinVersion string `yaml:"min_version" env:"MIN_VERSION"`
}

// Storage chooses the database.
type Storage struct {
	Driver      string `yaml:"driver" env:"DRIVER"`
	SQLitePath  string `yaml:"sqlite_path" env:"SQLITE_PATH"` // see Config.SQLitePath
	PostgresDSN string `yaml:"postgres_dsn" env:"POSTGRES_DSN"`
}

// Auth configures SASL.
type Auth struct {
	SCRAMIterations int  `yaml:"scram_iterations" env:"SCRAM_ITERATIONS"`
	AllowPlain      bool `yaml:"allow_plain" env:"ALLOW_PLAIN"` // offered over TLS only
}

// Registration configures XEP-0077 in-band registration.
type Registration struct {
	Enabled           bool `yaml:"enabled" env:"ENABLED"`
	MinPasswordLength int  `yaml:"min_password_length" env:"MIN_PASSWORD_LENGTH"`
}

// Limits bound what one peer can cost the server. For the counts and rates,
// 0 means unlimited where the field says so.
type Limits struct {
	MaxStanzaBytes      int           `yaml:"max_stanza_bytes" env:"MAX_STANZA_BYTES"`
	MaxDepth            int           `yaml:"max_depth" env:"MAX_DEPTH"`
	MaxAttrs            int           `yaml:"max_attrs" env:"MAX_ATTRS"`
	MaxConnections      int           `yaml:"max_connections" env:"MAX_CONNECTIONS"`
	MaxConnectionsPerIP int           `yaml:"max_connections_per_ip" env:"MAX_CONNECTIONS_PER_IP"` // 0 = unlimited
	LoginRatePerIP      float64       `yaml:"login_rate_per_ip" env:"LOGIN_RATE_PER_IP"`           // per second; 0 = unlimited
	MaxOfflineMessages  int           `yaml:"max_offline_messages" env:"MAX_OFFLINE_MESSAGES"`     // 0 = store none
	AuthTimeout         time.Duration `yaml:"auth_timeout" env:"AUTH_TIMEOUT"`
	IdleTimeout         time.Duration `yaml:"idle_timeout" env:"IDLE_TIMEOUT"`   // 0 = never
	PingInterval        time.Duration `yaml:"ping_interval" env:"PING_INTERVAL"` // 0 = never ping
	PingTimeout         time.Duration `yaml:"ping_timeout" env:"PING_TIMEOUT"`
	MaxResourcesPerUser int           `yaml:"max_resources_per_user" env:"MAX_RESOURCES_PER_USER"`
}

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Default returns the configuration used for every key the file and the
// environment leave out. It serves localhost on the standard ports.
func Default() Config {
	return Config{
		Hosts:    []string{"localhost"},
		LogLevel: "info",
		DataDir:  "./data",
		Listeners: Listeners{
			C2S:    C2SListener{Address: ":5222", StartTLSRequired: true},
			C2STLS: Listener{Address: ":5223"},
			HTTP:   HTTPListener{Address: ":5280", TrustedProxies: []string{"127.0.0.0/8", "::1/128"}, WebSocketOrigins: []string{}, WebDir: "web"},
		},
		TLS:              TLS{MinVersion: "1.2"},
		Storage:          Storage{Driver: DriverSQLite},
		Auth:             Auth{SCRAMIterations: 4096, AllowPlain: true},
		Registration:     Registration{Enabled: false, MinPasswordLength: 8},
		StreamManagement: StreamManagement{Enabled: true, ResumeTimeout: 5 * time.Minute, MaxUnacked: 5000},
		Archive:          Archive{Enabled: true},
		Components:       []Component{},
		API:              API{Tokens: []string{}},
		Admin:            Admin{Users: []string{}},
		Cluster: Cluster{
			Listen: "127.0.0.1:6222", Peers: []string{}, Heartbeat: time.Second, DeadAfter: 5 * time.Second, MaxClockSkew: 500 * time.Millisecond,
			DrainRate: 500, DrainTimeout: time.Minute,
		},
		Limits: Limits{
			MaxStanzaBytes:      262144,
			MaxDepth:            64,
			MaxAttrs:            64,
			MaxConnections:      20000,
			MaxOfflineMessages:  1000,
			AuthTimeout:         30 * time.Second,
			PingInterval:        120 * time.Second,
			PingTimeout:         30 * time.Second,
			MaxResourcesPerUser: 10,
		},
	}
}
