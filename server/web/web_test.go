package web

import (
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestStaticHandler(t *testing.T) {
	t.Parallel()
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

func TestStaticHandlerServesOnlyTheStylesheet(t *testing.T) {
	t.Parallel()
	h := StaticHandler("/static/", nil)
	get := func(method, path string, header http.Header) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, nil)
		maps.Copy(req.Header, header)
		h.ServeHTTP(rec, req)
		return rec
	}
	// No listing of the folder, nothing else below the prefix.
	for _, path := range []string{"/static/", "/static/index.html", "/static/style.css/", "/static/../web.go", "/static/STYLE.CSS"} {
		if rec := get(http.MethodGet, path, nil); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "style.css") {
			t.Errorf("GET %s: status %d, body %q; want 404 without a listing", path, rec.Code, rec.Body.String())
		}
	}
	rec := get(http.MethodGet, "/static/style.css", nil)
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get(http.MethodGet, "/static/style.css", http.Header{"If-None-Match": {etag}}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("GET with If-None-Match: status %d, %d bytes; want 304 and no body", rec.Code, rec.Body.Len())
	}
	if rec := get(http.MethodHead, "/static/style.css", nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 ||
		rec.Header().Get("Content-Length") != strconv.Itoa(len(baseCSS)) {
		t.Errorf("HEAD: status %d, %d bytes, Content-Length %q; want 200, no body, %d", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), len(baseCSS))
	}
	rec = httptest.NewRecorder()
	StaticHandler("/admin/static/", []byte("main {}")).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/static/style.css", nil))
	if rec.Header().Get("ETag") == etag {
		t.Error("two stylesheets share an ETag")
	}
}

func TestRenderer(t *testing.T) {
	t.Parallel()
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
