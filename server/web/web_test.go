package web

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestStaticHandler(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		extra  string
	}{
		{"/static/", ""},
		{"/admin/static/", "/* console */\nmain { max-width: 76rem; }\n"},
	} {
		rec := httptest.NewRecorder()
		StaticHandler(tt.prefix, []byte(tt.extra)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.prefix+"style.css", nil))
		want := string(baseCSS)
		if tt.extra != "" {
			want += "\n" + tt.extra
		}
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("%sstyle.css: status %d, body %q; want 200 and %q", tt.prefix, rec.Code, rec.Body.String(), want)
		}
		if got := rec.Header().Get("Cache-Control"); got != "public, max-age=3600" {
			t.Errorf("%sstyle.css: Cache-Control %q", tt.prefix, got)
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/css") {
			t.Errorf("%sstyle.css: Content-Type %q", tt.prefix, got)
		}
	}
}

func TestRenderer(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}<title>{{.Title}}</title>{{template "body" .}}{{end}}`)},
		"templates/hello.html":  {Data: []byte(`{{define "body"}}<p>{{shout .Title}}</p>{{end}}`)},
	}
	type page struct{ Title string }
	funcs := template.FuncMap{"shout": strings.ToUpper}
	rd, err := NewRenderer[page](slog.New(slog.DiscardHandler), "test template", fsys, funcs, "hello")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	rd.Render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusTeapot, "hello", page{Title: "a<b"})
	if rec.Code != http.StatusTeapot || rec.Body.String() != "<title>a&lt;b</title><p>A&lt;B</p>" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("headers %v", rec.Header())
	}

	rec = httptest.NewRecorder()
	rd.Render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "nowhere", page{})
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("unknown page: got %d, want 500", rec.Code)
	}

	if _, err := NewRenderer[page](nil, "test template", fsys, nil, "missing"); err == nil || !strings.Contains(err.Error(), "parse test template missing") {
		t.Errorf("missing template: got %v", err)
	}
}
