package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" for valid
	}{
		{"single node", Config{NodeName: "a"}, ""},
		{"embedded cluster", Config{NodeName: "node-1_x", Listen: "127.0.0.1:6222", Peers: []string{"nats://10.0.0.2:6222"}}, ""},
		{"external nats", Config{NodeName: "a", NATSURL: "nats://127.0.0.1:4222"}, ""},
		{"no name", Config{}, "empty"},
		{"dot in name", Config{NodeName: "a.b"}, "not allowed"},
		{"wildcard in name", Config{NodeName: "a*"}, "not allowed"},
		{"space in name", Config{NodeName: "a b"}, "not allowed"},
		{"long name", Config{NodeName: strings.Repeat("a", 65)}, "longer"},
		{"dead too soon", Config{NodeName: "a", Heartbeat: time.Second, DeadAfter: 1500 * time.Millisecond}, "twice"},
		{"negative heartbeat", Config{NodeName: "a", Heartbeat: -time.Second}, "positive"},
		{"peers without listen", Config{NodeName: "a", Peers: []string{"nats://127.0.0.1:6222"}}, "listen"},
		{"bad listen", Config{NodeName: "a", Listen: "6222"}, "listen"},
		{"bad listen port", Config{NodeName: "a", Listen: "127.0.0.1:x"}, "port"},
		{"peer without scheme", Config{NodeName: "a", Listen: ":6222", Peers: []string{"10.0.0.2:6222"}}, "nats://"},
		{"nats url and listen", Config{NodeName: "a", NATSURL: "nats://x:4222", Listen: ":6222"}, "nats_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.wantErr)
			case err != nil && !errors.Is(err, ErrInvalidConfig):
				t.Fatalf("Validate: %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{NodeName: "a"}.withDefaults()
	if c.Heartbeat != time.Second || c.DeadAfter != 5*time.Second || c.JoinWait != 2*time.Second ||
		c.ClientListen != "127.0.0.1:0" {
		t.Errorf("defaults: %+v", c)
	}
	// The contract: a dead node is noticed within 10 s with the defaults.
	if worst := c.DeadAfter + c.Heartbeat/4; worst > 10*time.Second {
		t.Errorf("default detection time %v exceeds 10s", worst)
	}
}
