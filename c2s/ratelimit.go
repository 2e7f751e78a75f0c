package c2s

import (
	"sync"

	"golang.org/x/time/rate"
)

// loginLimiter limits authentication attempts per client IP
// (limits.login_rate_per_ip). Entries are dropped once they are full again,
// so the map only holds addresses that attempted logins recently.
type loginLimiter struct {
	perSec float64 // 0: unlimited

	mu  sync.Mutex // guards ips
	ips map[string]*rate.Limiter
}

func newLoginLimiter(perSec float64) *loginLimiter {
	return &loginLimiter{perSec: perSec, ips: make(map[string]*rate.Limiter)}
}

// allow reports whether ip may attempt a login now.
func (l *loginLimiter) allow(ip string) bool {
	if l.perSec <= 0 {
		return true
	}
	burst := max(1, int(l.perSec))
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.ips[ip]
	if !ok {
		if len(l.ips) >= 4096 {
			for k, v := range l.ips {
				if v.Tokens() >= float64(burst) {
					delete(l.ips, k)
				}
			}
		}
		lim = rate.NewLimiter(rate.Limit(l.perSec), burst)
		l.ips[ip] = lim
	}
	return lim.Allow()
}
