package adminapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(openAPIDocument))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// resolve follows a local $ref such as "#/components/schemas/Client".
func resolve(doc map[string]any, ref string) (any, bool) {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref returns v, or what its $ref points to.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		target, ok := resolve(doc, ref)
		if !ok {
			t.Fatalf("$ref %q does not resolve", ref)
		}
		m, _ = target.(map[string]any)
	}
	return m
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		t.Errorf("got openapi %q, want 3.0.x", v)
	}
	_, a := newAPI(APIDeps{})

	var documented []string
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method := range item.(map[string]any) {
			if slices.Contains(openAPIMethods, method) {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	registered := slices.Clone(a.patterns)
	slices.Sort(documented)
	slices.Sort(registered)
	for _, p := range registered {
		if !slices.Contains(documented, p) {
			t.Errorf("route %q is not in openapi.json", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(registered, p) {
			t.Errorf("openapi.json describes %q, which is not a route", p)
		}
	}
	if len(registered) != len(slices.Compact(slices.Clone(registered))) {
		t.Errorf("a route is registered twice: %v", registered)
	}
}

func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if _, ok := resolve(doc, "#/components/securitySchemes/bearerAuth"); !ok {
		t.Fatal("no bearerAuth security scheme")
	}
	if got, _ := json.Marshal(doc["security"]); string(got) != `[{"bearerAuth":[]}]` {
		t.Errorf("got top-level security %s, want bearerAuth", got)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	paths, _ := doc["paths"].(map[string]any)
	for path, rawItem := range paths {
		item := rawItem.(map[string]any)
		for _, method := range openAPIMethods {
			rawOp, ok := item[method]
			if !ok {
				continue
			}
			op := rawOp.(map[string]any)
			name := strings.ToUpper(method) + " " + path
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", name)
			}
			for code, r := range responses {
				if deref(t, doc, r)["description"] == nil {
					t.Errorf("%s: response %s has no description", name, code)
				}
			}
			if path == "/admin/api/openapi.json" {
				if sec, ok := op["security"].([]any); !ok || len(sec) != 0 {
					t.Errorf("%s: want security [] (public)", name)
				}
				continue
			}
			if _, ok := op["security"]; ok {
				t.Errorf("%s: overrides the bearer security", name)
			}
			for _, code := range []string{"401", "403", "500", "503"} {
				if _, ok := responses[code]; !ok {
					t.Errorf("%s: no %s response", name, code)
				}
			}
			if _, ok := op["requestBody"]; ok {
				for _, code := range []string{"400", "413", "415"} {
					if _, ok := responses[code]; !ok {
						t.Errorf("%s: takes a body but has no %s response", name, code)
					}
				}
			}
			var declared []string
			for _, list := range []any{item["parameters"], op["parameters"]} {
				ps, _ := list.([]any)
				for _, p := range ps {
					pm := deref(t, doc, p)
					if pm["in"] == "path" {
						declared = append(declared, pm["name"].(string))
					}
				}
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !slices.Contains(declared, m[1]) {
					t.Errorf("%s: path parameter %s is not declared", name, m[1])
				}
			}
		}
	}

	// Every $ref anywhere resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, ok := resolve(doc, ref); !ok {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, child := range x {
				walk(child)
			}
		case []any:
			for _, child := range x {
				walk(child)
			}
		}
	}
	walk(doc)
}

func TestOpenAPIIsPublic(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(NewAPI(APIDeps{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(body, openAPIDocument) {
		t.Errorf("got a body of %d bytes, want the embedded document (%d bytes)", len(body), len(openAPIDocument))
	}
}
