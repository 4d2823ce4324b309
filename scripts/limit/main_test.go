package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testdb"
)

// TestLimitServer checks that the limit server does the work it stands for:
// a token is stored and introspects active, a wrong secret or password is
// refused, an unknown token is inactive.
func TestLimitServer(t *testing.T) {
	u := testdb.URL(t, "postgres")
	s, err := newServer(context.Background(), config{
		listen: "127.0.0.1:0", databaseURL: u, maxConns: 4,
		clientID: "limit", clientSecret: "s3cret", username: "perf", password: "pw",
		argonTime: 1, argonMemKiB: 8 * 1024, argonThreads: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.db.Close() })
	ts := httptest.NewServer(s)
	defer ts.Close()

	post := func(path, secret string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("limit", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %q is not JSON: %v", path, b, err)
		}
		return resp.StatusCode, m
	}

	code, tok := post("/token", "s3cret", url.Values{"grant_type": {"client_credentials"}})
	if code != 200 || tok["access_token"] == "" {
		t.Fatalf("client_credentials: %d %v", code, tok)
	}
	if code, m := post("/introspect", "s3cret", url.Values{"token": {tok["access_token"].(string)}}); code != 200 || m["active"] != true {
		t.Fatalf("introspect: %d %v", code, m)
	}
	if code, m := post("/introspect", "s3cret", url.Values{"token": {"nope"}}); code != 200 || m["active"] != false {
		t.Fatalf("introspect unknown: %d %v", code, m)
	}
	if code, _ := post("/token", "wrong", url.Values{"grant_type": {"client_credentials"}}); code != 401 {
		t.Fatalf("wrong secret: %d", code)
	}
	if code, _ := post("/token", "s3cret", url.Values{"grant_type": {"password"}, "username": {"perf"}, "password": {"pw"}}); code != 200 {
		t.Fatalf("password: %d", code)
	}
	if code, m := post("/token", "s3cret", url.Values{"grant_type": {"password"}, "username": {"perf"}, "password": {"px"}}); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("wrong password: %d %v", code, m)
	}
}
