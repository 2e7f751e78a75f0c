//go:build unix && !linux

package testpg

import "syscall"

// procAttr runs a PostgreSQL binary as cred (nil: as ourselves).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
