package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/CONFIGURATION.md from the config struct")

const referencePath = "../docs/CONFIGURATION.md"

// TestConfigurationReference fails when docs/CONFIGURATION.md and the
// Config struct differ; go generate ./config (or -update) rewrites it.
func TestConfigurationReference(t *testing.T) {
	source, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Reference(source)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(referencePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v (run go generate ./config)", err)
	}
	if string(got) != want {
		t.Errorf("%s differs from the config struct; run go generate ./config.\ngot:\n%s\nwant:\n%s", referencePath, got, want)
	}
}

// TestReferenceNamesEverySetting checks the document reaches the leaves a
// reader needs: one row per setting, variables unique.
func TestReferenceNamesEverySetting(t *testing.T) {
	source, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Reference(source)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range settings() {
		if seen[s.Env] {
			t.Errorf("%s names two settings", s.Env)
		}
		seen[s.Env] = true
		if !strings.Contains(doc, "| `"+s.Key+"` | `"+s.Env+"` |") {
			t.Errorf("no row for %s / %s", s.Key, s.Env)
		}
	}
	for _, key := range []string{"mail.smtp_host", "argon2.memory_kib", "rate_limit.burst", "trusted_proxies", "log_format"} {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("reference lacks %s", key)
		}
	}
	// A field without a doc comment is refused, not rendered empty.
	if _, err := Reference([]byte("package config\ntype Config struct {\n\tIssuer string\n}\n")); err == nil {
		t.Error("Reference accepted a Config whose fields have no doc comments")
	}
}
