package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/authgate/authgate/config"
)

// cmdHealthcheck asks the running server whether it is ready, for images
// without a shell or curl (distroless): it GETs /health/ready on the
// public listener and succeeds only on 200. It opens no database and
// writes nothing.
func cmdHealthcheck(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "healthcheck", "[--config FILE] [--url URL] [--timeout 3s]")
	target := f.String("url", "", "the readiness URL (default: /health/ready on the listen address, a wildcard address asked on loopback)")
	timeout := f.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if *target == "" {
		cfg, err := config.Load(env.getenv, f.configPath)
		if err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		u, err := readyURL(cfg.Listen)
		if err != nil {
			return err
		}
		*target = u
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// Straight to the listener: never through a proxy from the environment.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *target, resp.Status)
	}
	fmt.Fprintf(env.stdout, "ready: %s\n", *target)
	return nil
}

// readyURL is the readiness URL of a server listening on listen: a
// wildcard host (0.0.0.0, ::, empty) is asked on the loopback address of
// its family.
func readyURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("healthcheck: listen %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health/ready", nil
}
