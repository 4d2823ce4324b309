package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is the data every page template gets.
type page struct {
	Title        string
	Organization string
	CSRF         string
	SignedIn     bool
	Error        string
	Notice       string
	Data         any
	// Login page
	ClientName string
	ReturnTo   string
	Username   string
	// Consent page
	Scopes []string
	Params []param
}

type param struct{ Name, Value string }

// renderer parses each page with the shared layout once, at start.
type renderer struct {
	pages  map[string]*template.Template
	logger *slog.Logger
}

func newRenderer(logger *slog.Logger, extra fs.FS, names ...string) (*renderer, error) {
	r := &renderer{pages: map[string]*template.Template{}, logger: logger}
	for _, name := range names {
		t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// render writes a page. Pages carry forms and personal data: never cached.
func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := rd.pages[name]
	if !ok {
		rd.logger.ErrorContext(r.Context(), "unknown template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		rd.logger.ErrorContext(r.Context(), "render template", "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fileServer := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.StripPrefix("/static/", fileServer).ServeHTTP(w, r)
	})
}
