package adminapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer  abc ", "Basic abc", "Bearer", "Bearer ", "BEARER a b", "Bearer\tabc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := bearerToken(header)
		if ok != (token != "") {
			t.Errorf("bearerToken(%q) = %q, %t: ok must mean a token", header, token, ok)
		}
		if token != strings.TrimSpace(token) {
			t.Errorf("bearerToken(%q) = %q, with surrounding space", header, token)
		}
		if ok && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(header)), "bearer ") {
			t.Errorf("bearerToken(%q) accepted another scheme", header)
		}
	})
}

// FuzzDecodeJSON checks that any body either decodes or is refused as an
// invalid_request naming a field, never as a server error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"name":"x","grant_types":["password"]}`, `{"name":5}`, `{"nope":1}`,
		`{"name":"x"} {}`, `{"name":"x"`, `{"redirect_uris":[1]}`, `"x"`, `{"public":"yes"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/admin/api/clients", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var in createClientRequest
		err := decodeJSON(httptest.NewRecorder(), r, &in)
		if err == nil {
			return
		}
		status, eb, _ := classify(r.Context(), err)
		if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
			t.Fatalf("body %q: got status %d (%v), want 400 or 413", body, status, err)
		}
		if eb.Error != codeInvalidRequest || eb.Field == "" || !strings.HasPrefix(eb.Description, eb.Field+": ") {
			t.Errorf("body %q: got %+v, want invalid_request naming a field", body, eb)
		}
	})
}
