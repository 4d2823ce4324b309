package config_test

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/config"
)

func TestProcessVariables(t *testing.T) {
	vars := env(map[string]string{"AUTHGATE_CONFIG": "/etc/authgate.yaml", "USER": "ops"})
	if got := config.Path(vars); got != "/etc/authgate.yaml" {
		t.Errorf("Path = %q, want /etc/authgate.yaml", got)
	}
	if got := config.Operator(vars); got != "ops" {
		t.Errorf("Operator = %q, want ops", got)
	}
	if config.Path(env(nil)) != "" || config.Operator(env(nil)) != "" {
		t.Error("Path or Operator not empty with nothing set")
	}
}

func TestLogLevelSet(t *testing.T) {
	for vars, want := range map[string]bool{"": false, "info": true, "debug": true} {
		cfg, err := config.Load(env(map[string]string{"AUTHGATE_LOG_LEVEL": vars}), "")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.LogLevelSet != want {
			t.Errorf("AUTHGATE_LOG_LEVEL=%q: LogLevelSet %t, want %t", vars, cfg.LogLevelSet, want)
		}
	}
}

func TestProxy(t *testing.T) {
	proxyOf := func(t *testing.T, vars map[string]string, target string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := config.Proxy(env(vars))(req)
		if err != nil {
			return "error"
		}
		if u == nil {
			return ""
		}
		return u.String()
	}
	for _, c := range []struct {
		name   string
		vars   map[string]string
		target string
		want   string
	}{
		{"none set", nil, "https://id.example.com/", ""},
		{"https", map[string]string{"HTTPS_PROXY": "http://proxy:3128"}, "https://id.example.com/", "http://proxy:3128"},
		{"lower case", map[string]string{"https_proxy": "http://proxy:3128"}, "https://id.example.com/", "http://proxy:3128"},
		{"upper case wins", map[string]string{"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}, "https://id.example.com/", "http://upper:1"},
		{"http only for http", map[string]string{"HTTP_PROXY": "http://proxy:3128"}, "https://id.example.com/", ""},
		{"http", map[string]string{"HTTP_PROXY": "http://proxy:3128"}, "http://id.example.com/", "http://proxy:3128"},
		{"no_proxy", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": ".example.com"}, "https://id.example.com/", ""},
		// Like Go's own, never for loopback: bench usually targets a local server.
		{"loopback", map[string]string{"HTTP_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8080/", ""},
		// Under CGI, HTTP_PROXY may come from a request's Proxy header
		// (httpoxy): refused with an error, never used.
		{"cgi", map[string]string{"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}, "http://id.example.com/", "error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := proxyOf(t, c.vars, c.target); got != c.want {
				t.Errorf("proxy for %s = %q, want %q", c.target, got, c.want)
			}
		})
	}
}
