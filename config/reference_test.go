package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
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
	want, err := reference(source)
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
	doc, err := reference(source)
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
	if _, err := reference([]byte("package config\ntype Config struct {\n\tIssuer string\n}\n")); err == nil {
		t.Error("Reference accepted a Config whose fields have no doc comments")
	}
}

// reference renders docs/CONFIGURATION.md (in a test file, so that the
// server does not link go/parser): every setting's YAML key,
// variable, default and meaning. The meanings are the doc comments of the
// fields in source, the Go source text of this package, read with
// go/parser; a field without one is an error, so that a new setting cannot
// go undocumented.
func reference(source []byte) (string, error) {
	docs, err := fieldDocs(source)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(referenceHeader)
	b.WriteString("| YAML key | variable | default | meaning |\n|---|---|---|---|\n")
	def := reflect.ValueOf(Default())
	for _, s := range settings() {
		doc := docs[s.Owner+"."+s.Field]
		if doc == "" {
			return "", fmt.Errorf("%s.%s (%s) has no doc comment", s.Owner, s.Field, s.Key)
		}
		if s.Env == "" {
			return "", fmt.Errorf("%s.%s (%s) has no env tag", s.Owner, s.Field, s.Key)
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", s.Key, s.Env, formatDefault(def.FieldByIndex(s.Index)), doc)
	}
	b.WriteString(referenceFooter)
	return b.String(), nil
}

const referenceHeader = `# Configuration reference

<!-- Generated from config/config.go by ` + "`go generate ./config`" + `; do not edit.
     config's tests fail when this file and the struct differ. -->

authgate reads its settings once, at start: the defaults below, then an
optional YAML file (` + "`--config FILE` or `AUTHGATE_CONFIG`" + `), then the
` + "`AUTHGATE_*`" + ` environment variables, each overriding the one before. Every
setting is validated before anything starts, and every mistake is reported
with what to do about it. A key the YAML file does not know is refused,
with the file, the line and the nearest known key.

In YAML, nested keys are written nested (` + "`mail.smtp_host`" + ` is
` + "`smtp_host`" + ` under ` + "`mail:`" + `). Durations are written as Go durations
(` + "`90s`, `15m`, `720h`" + `).

` + "```yaml" + `
database_url: postgres://authgate@db:5432/authgate
issuer: https://id.example.com
listen: 0.0.0.0:8080
trusted_proxies: [10.0.0.0/8]
mail:
  smtp_host: smtp.example.com
` + "```" + `

`

const referenceFooter = `
Variables that are not settings of the server but of the command being run:
` + "`AUTHGATE_CONFIG`" + ` (the YAML file, like ` + "`--config`" + `) and ` + "`USER`" + ` (named
in the audit log as the operator of a CLI command).
`

// formatDefault writes a default value the way a user would type it.
func formatDefault(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return "`" + s + "`"
	}
	if (v.Kind() == reflect.String || v.Kind() == reflect.Slice) && v.Len() == 0 {
		return "empty"
	}
	return fmt.Sprintf("`%v`", v.Interface())
}

// fieldDocs maps "Type.Field" to the field's doc comment, on one line.
func fieldDocs(source []byte) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", source, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, field := range st.Fields.List {
			text := strings.Join(strings.Fields(field.Doc.Text()), " ")
			for _, name := range field.Names {
				out[ts.Name.Name+"."+name.Name] = strings.ReplaceAll(text, "|", `\|`)
			}
		}
		return false
	})
	return out, nil
}
