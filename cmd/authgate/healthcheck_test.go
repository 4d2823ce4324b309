package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

func TestHealthcheckAgainstServer(t *testing.T) {
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	// The server's own settings: healthcheck finds the listener from them.
	getenv := func(k string) string { return in.env[k] }
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"healthcheck"}, getenv, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("healthcheck against a ready server: %v\n%s", err, errOut.String())
	}
	if want := "ready: " + in.issuer + "/health/ready"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	// Nothing listening: exit 1.
	closed := freePort(t)
	err := run(t.Context(), []string{"healthcheck", "--timeout", "1s"}, func(k string) string {
		if k == "AUTHGATE_LISTEN" {
			return closed
		}
		return in.env[k]
	}, strings.NewReader(""), &out, &errOut)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("healthcheck with no server: %v, want exit 1", err)
	}
}

func TestHealthcheckStatusesAndTimeout(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		if status.Load() == 0 {
			<-release
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	defer close(release)
	listen := strings.TrimPrefix(srv.URL, "http://")
	getenv := func(k string) string {
		// A proxy in the environment must not be used.
		return map[string]string{"AUTHGATE_LISTEN": listen, "HTTP_PROXY": "http://127.0.0.1:1", "http_proxy": "http://127.0.0.1:1"}[k]
	}
	check := func(args ...string) error {
		var out, errOut bytes.Buffer
		return run(t.Context(), append([]string{"healthcheck"}, args...), getenv, strings.NewReader(""), &out, &errOut)
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not ready: got %v, want an error naming 503", err)
	}
	status.Store(http.StatusOK)
	if err := check(); err != nil {
		t.Errorf("ready: got %v", err)
	}
	if err := check("--url", srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("--url: got %v, want the 404", err)
	}
	status.Store(0) // hang
	start := time.Now()
	if err := check("--timeout", "200ms"); err == nil {
		t.Error("a server that does not answer: got success")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout 200ms took %s", d)
	}
}

func TestReadyURL(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:8080":   "http://127.0.0.1:8080/health/ready",
		":8080":          "http://127.0.0.1:8080/health/ready",
		"[::]:8080":      "http://[::1]:8080/health/ready",
		"10.1.2.3:9000":  "http://10.1.2.3:9000/health/ready",
		"127.0.0.1:8080": "http://127.0.0.1:8080/health/ready",
	} {
		if got, err := readyURL(listen); err != nil || got != want {
			t.Errorf("readyURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), "authgate ") || !strings.Contains(out.String(), "go1.") {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
	info := func(v string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: v}, Settings: settings}
	}
	for _, c := range []struct {
		linked string
		info   *debug.BuildInfo
		ok     bool
		want   string
	}{
		{"v1.2.3", info("v0.9.0"), true, "v1.2.3"},
		{"", info("v0.9.0"), true, "v0.9.0"},
		{"", info("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef0123"}, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), true, "devel+0123456789ab-dirty"},
		{"", info("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: "abc"}), true, "devel+abc"},
		{"", info("(devel)"), true, "devel"},
		{"", nil, false, "devel"},
	} {
		if got := buildVersion(c.linked, c.info, c.ok); got != c.want {
			t.Errorf("buildVersion(%q, %+v) = %q, want %q", c.linked, c.info, got, c.want)
		}
	}
}
