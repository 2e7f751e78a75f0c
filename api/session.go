package api

import (
	"crypto/subtle"
	"net/http"
)

// A browser logged in to the admin dashboard (package admin) uses the API
// with its session cookie instead of a bearer token. Browsers send
// cookies with every request to the site, including ones another page
// makes them send; so a request that changes something must also carry
// the session's CSRF token in a header, which no other origin can set or
// read (the API answers no CORS preflight).

// session reports whether r comes with a valid dashboard session and no
// Authorization header (a bearer token, when present, is what counts),
// and the session's CSRF token.
func (a *API) session(r *http.Request) (csrf string, ok bool) {
	if a.cfg.Sessions == nil || r.Header.Get("Authorization") != "" {
		return "", false
	}
	_, csrf, ok = a.cfg.Sessions.Check(r)
	return csrf, ok
}

// checkCSRF passes safe methods, and others that carry the CSRF token.
func checkCSRF(r *http.Request, csrf string) *authError {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) != 1 {
		return &authError{Error: errorf(http.StatusForbidden, "csrf-token-required",
			"a request with the dashboard's session cookie that changes something needs the session's CSRF token in %s", CSRFHeader)}
	}
	return nil
}
