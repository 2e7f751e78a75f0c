// Package archtest keeps docs/architecture.md true by tests: every package
// of the module has a package doc comment, and imports follow the layering
// listener → stream (c2s, component) → session and router → im → modules →
// storage. It has no code of its own: its tests list the packages with
// `go list` and parse their files.
package archtest
