package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 for user space on every architecture.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user + system) a process has used, from
// /proc/<pid>/stat, to 10 ms.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// procRSS is a process's resident set (VmRSS) in KiB.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			v = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))
			return strconv.ParseInt(string(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("bench: /proc/%d/status: no VmRSS", pid)
}

// selfCPU is this process's CPU time (user + system), to the microsecond.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseNoFile lifts the soft limit on open files to the hard limit and
// returns it.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// tcpSocket is one line of /proc/net/tcp{,6}.
type tcpSocket struct {
	localPort int
	state     string // hex: 01 established, 0A listen
	inode     string
}

// tcpSockets lists the sockets of this network namespace.
func tcpSockets() ([]tcpSocket, error) {
	var out []tcpSocket
	found := false
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		found = true
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 {
				continue
			}
			_, port, ok := strings.Cut(fs[1], ":")
			if !ok {
				continue
			}
			p, err := strconv.ParseInt(port, 16, 32)
			if err != nil {
				continue
			}
			out = append(out, tcpSocket{localPort: int(p), state: fs[3], inode: fs[9]})
		}
		f.Close()
	}
	if !found {
		return nil, fmt.Errorf("bench: cannot read /proc/net/tcp")
	}
	return out, nil
}

func addrPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// establishedAt counts established TCP sockets whose local port is one of
// ports: on loopback, the server's ends of client connections. It is
// evidence, independent of the server, that the logins are being held.
func establishedAt(ports ...int) int {
	socks, err := tcpSockets()
	if err != nil {
		return -1
	}
	n := 0
	for _, s := range socks {
		if s.state == "01" && slices.Contains(ports, s.localPort) {
			n++
		}
	}
	return n
}

// listenerOwner returns which of pids holds the socket listening on
// addr's port, 0 for none, so the CPU and memory measured are those of
// the server that is actually answering.
func listenerOwner(pids []int, addr string) (int, error) {
	port, err := addrPort(addr)
	if err != nil {
		return 0, err
	}
	socks, err := tcpSockets()
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, s := range socks {
		if s.localPort == port && s.state == "0A" {
			inodes["socket:["+s.inode+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("bench: nothing listens on port %d", port)
	}
	for _, pid := range pids {
		dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
		ents, err := os.ReadDir(dir)
		if err != nil {
			return 0, err
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && inodes[l] {
				return pid, nil
			}
		}
	}
	return 0, nil
}
