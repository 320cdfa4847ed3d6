package server

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// access guards the server: a bearer token for every path but health and readiness (when one
// is configured), and AllowedSubnet for config, admin and debug paths. mly compares string
// prefixes of RemoteAddr ("10." also admits 100.x and 10x.x); these are CIDR ranges.
type access struct {
	token   []byte
	subnets []netip.Prefix
}

func newAccess(s OpsSettings) (*access, error) {
	a := &access{}
	for _, cidr := range s.AllowedSubnet {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("AllowedSubnet: %q is not a CIDR range: %w", cidr, err)
		}
		a.subnets = append(a.subnets, p.Masked())
	}
	token := os.Getenv(TokenEnv)
	if s.AuthTokenFile != "" {
		raw, err := os.ReadFile(s.AuthTokenFile)
		if err != nil {
			return nil, fmt.Errorf("Endpoint.AuthTokenFile: %w", err)
		}
		token = strings.TrimSpace(string(raw))
		if token == "" {
			return nil, fmt.Errorf("Endpoint.AuthTokenFile: %s is empty", s.AuthTokenFile)
		}
	}
	if token != "" {
		a.token = []byte(token)
	}
	return a, nil
}

// open paths need no token: a load balancer probes them.
func open(path string) bool { return path == "/v1/api/health" || path == "/v1/api/ready" }

// guarded paths also need a client address inside AllowedSubnet.
func guarded(path string) bool {
	return path == "/v1/api/config" || strings.HasPrefix(path, "/v1/api/config/") ||
		strings.HasPrefix(path, "/v1/api/debug/") || strings.HasPrefix(path, "/v1/api/admin/")
}

func (a *access) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if a.token != nil && !open(path) && !a.tokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mlbridge"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer …)")
			return
		}
		if len(a.subnets) > 0 && guarded(path) && !a.subnetOK(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "this path is limited to AllowedSubnet")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *access) tokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), a.token) == 1
}

func (a *access) subnetOK(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap() // an IPv4 client on a dual-stack socket
	for _, p := range a.subnets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
