package server

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/parley-im/parley/c2s"
)

// The web side of the HTTP listener: XMPP over WebSocket (RFC 7395) and
// its discovery (XEP-0156 host-meta, XML and JSON).

const (
	webSocketPath = "/xmpp-websocket"
	boshPath      = "/http-bind"
	relWebSocket  = "urn:xmpp:alt-connections:websocket"
	relBOSH       = "urn:xmpp:alt-connections:xbosh"
)

// mountWeb adds the web transports and their discovery to mux.
func (s *Server) mountWeb(mux *http.ServeMux) {
	mux.Handle("GET "+webSocketPath, s.c2s.WebSocketHandler(c2s.WebSocketOptions{
		OriginPatterns: s.cfg.Listeners.HTTP.WebSocketOrigins,
		Client:         s.webClient,
	}))
	mux.Handle(boshPath, s.c2s.BOSHHandler(c2s.BOSHOptions{Client: s.webClient}))
	mux.HandleFunc("GET /.well-known/host-meta", s.hostMeta)
	mux.HandleFunc("GET /.well-known/host-meta.json", s.hostMetaJSON)
}

// trusted reports whether addr is a reverse proxy of listeners.http.trusted_proxies.
func (s *Server) trusted(addr netip.Addr) bool {
	for _, p := range s.cfg.Listeners.HTTP.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// webClient returns the address of the client behind a request and
// whether its connection is private: the peer's own address, or — from a
// trusted proxy — the last address X-Forwarded-For adds; private when
// encrypted (https, or X-Forwarded-Proto: https from a trusted proxy) or
// when the client is on this machine (loopback: nothing crosses a
// network, as for a browser and a server on one laptop).
func (s *Server) webClient(r *http.Request) (net.Addr, bool) {
	addr, secure := s.webPeer(r)
	if !secure && addr.IP.IsLoopback() {
		secure = true
	}
	return addr, secure
}

func (s *Server) webPeer(r *http.Request) (*net.TCPAddr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}, r.TLS != nil
	}
	addr, secure := net.TCPAddrFromAddrPort(peer), r.TLS != nil
	if !s.trusted(peer.Addr()) {
		return addr, secure
	}
	if fwd := r.Header.Values("X-Forwarded-For"); len(fwd) > 0 {
		hops := strings.Split(strings.Join(fwd, ","), ",")
		if ip, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1])); err == nil {
			addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
		}
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		secure = strings.EqualFold(strings.TrimSpace(p), "https")
	}
	return addr, secure
}

// publicBase is how browsers reach the listener: listeners.http.public_url,
// or the request's host and scheme (trusted proxies' X-Forwarded-Host and
// X-Forwarded-Proto believed).
func (s *Server) publicBase(r *http.Request) (scheme, host string) {
	if u := s.cfg.Listeners.HTTP.PublicURL; u != "" {
		scheme, host, _ = strings.Cut(strings.TrimSuffix(u, "/"), "://")
		return scheme, host
	}
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && s.trusted(peer.Addr()) {
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			scheme = strings.ToLower(strings.TrimSpace(p))
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = strings.TrimSpace(h)
		}
	}
	return scheme, host
}

// boshURL is the BOSH endpoint as browsers reach it.
func (s *Server) boshURL(r *http.Request) string {
	scheme, host := s.publicBase(r)
	return scheme + "://" + host + boshPath
}

// webSocketURL is the WebSocket endpoint as browsers reach it.
func (s *Server) webSocketURL(r *http.Request) string {
	scheme, host := s.publicBase(r)
	ws := "ws"
	if scheme == "https" {
		ws = "wss"
	}
	return ws + "://" + host + webSocketPath
}

type xrdLink struct {
	Rel  string `xml:"rel,attr" json:"rel"`
	Href string `xml:"href,attr" json:"href"`
}

type xrd struct {
	XMLName xml.Name  `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD" json:"-"`
	Links   []xrdLink `xml:"Link" json:"links"`
}

func (s *Server) links(r *http.Request) xrd {
	return xrd{Links: []xrdLink{{Rel: relWebSocket, Href: s.webSocketURL(r)}, {Rel: relBOSH, Href: s.boshURL(r)}}}
}

// hostMeta answers XEP-0156 §3.1 (XRD).
func (s *Server) hostMeta(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xrd+xml; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	b, _ := xml.MarshalIndent(s.links(r), "", "  ")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// hostMetaJSON answers XEP-0156 §3.2 (JRD).
func (s *Server) hostMetaJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(s.links(r))
}
