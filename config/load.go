package config

import (
	"fmt"
	"os"
	"strings"
)

// Load returns Default() overlaid with the YAML file at path (skipped when
// path is "") and then with PARLEY_* environment variables, and validates the
// result. Unknown keys in the file are errors.
func Load(path string) (Config, error) {
	return load(path, nil)
}

// load is Load with the environment passed in; nil means os.Environ.
func load(path string, environ map[string]string) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, path, &c); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	for i, h := range c.Hosts {
		c.Hosts[i] = strings.TrimSpace(h)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
