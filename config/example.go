package config

import _ "embed"

//go:embed parley.example.yaml
var example string

// Example returns a commented YAML configuration file listing every key with
// its default value.
func Example() string { return example }
