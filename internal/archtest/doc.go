// Package archtest keeps docs/architecture.md true by tests: every package
// of the module has a package doc comment. It has no code of its own: its
// tests list the packages with `go list` and parse their files.
package archtest
