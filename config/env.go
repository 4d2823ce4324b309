package config

import (
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpproxy"
)

// The few environment variables that are not settings of the server but
// of the process that runs a command. They are read here too, so that
// config stays the one package that reads the environment.

// Path returns the config file named by AUTHGATE_CONFIG, or "".
func Path(getenv func(string) string) string { return getenv("AUTHGATE_CONFIG") }

// Operator returns the login name of the person running a command ($USER),
// or "" when unknown; the CLI names it in the audit log.
func Operator(getenv func(string) string) string { return getenv("USER") }

// Proxy returns how outgoing requests of a command (authgate-bench) choose
// their proxy: from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or their lower
// case forms), as curl and Go's http.ProxyFromEnvironment read them.
func Proxy(getenv func(string) string) func(*http.Request) (*url.URL, error) {
	either := func(name, lower string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return getenv(lower)
	}
	c := httpproxy.Config{
		HTTPProxy:  either("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: either("HTTPS_PROXY", "https_proxy"),
		NoProxy:    either("NO_PROXY", "no_proxy"),
		CGI:        getenv("REQUEST_METHOD") != "",
	}
	proxy := c.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
}
