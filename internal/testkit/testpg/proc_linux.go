package testpg

import "syscall"

// procAttr runs a PostgreSQL binary as cred (nil: as ourselves). The
// postmaster is also told to quit at once if the test binary dies without
// stopping it. (Linux sends that signal when the thread that started the
// child exits; Go only ends threads locked by a goroutine that exits.)
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}
