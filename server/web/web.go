// Package web holds what the public pages (package server) and the admin
// console share: the page renderer, the stylesheet and the handler that
// serves it, and the middleware every response passes through. Each
// package keeps its own templates.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

// baseCSS is the stylesheet of the public pages, which the console's
// stylesheet extends.
//
//go:embed style.css
var baseCSS []byte

// Renderer writes pages, each parsed once, at start, with the shared
// layout; T is the data every page gets.
type Renderer[T any] struct {
	pages  map[string]*template.Template
	logger *slog.Logger
	kind   string
}

// NewRenderer parses, for each name, templates/layout.html with
// templates/NAME.html from fsys, with funcs. Kind is what errors and log
// lines call a template, such as "console template".
func NewRenderer[T any](logger *slog.Logger, kind string, fsys fs.FS, funcs template.FuncMap, names ...string) (*Renderer[T], error) {
	rd := &Renderer[T]{pages: map[string]*template.Template{}, logger: logger, kind: kind}
	for _, name := range names {
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s %s: %w", kind, name, err)
		}
		rd.pages[name] = t
	}
	return rd, nil
}

// Render writes the page name with data. Pages carry forms and personal
// data: never cached.
func (rd *Renderer[T]) Render(w http.ResponseWriter, r *http.Request, status int, name string, data T) {
	t, ok := rd.pages[name]
	if !ok {
		rd.logger.ErrorContext(r.Context(), "unknown "+rd.kind, "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		rd.logger.ErrorContext(r.Context(), "render "+rd.kind, "template", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// SecurityHeaders sets the headers every response of the public pages and
// the console carries: what a page may load, never in a frame, no content
// sniffing and no referrer. Scripts and their requests (connect-src: the
// passkey ceremonies' JSON endpoints) reach this origin only.
func SecurityHeaders(next http.Handler) http.Handler {
	// The values are built once and shared by every response, under keys
	// already in canonical form: setting them is four map assignments.
	// Header.Set and Header.Add never write into a shared value (Set
	// replaces it, Add appends past its full capacity, which copies).
	csp := []string{"default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"}
	deny, nosniff, noReferrer := []string{"DENY"}, []string{"nosniff"}, []string{"no-referrer"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = csp[:1:1]
		h["X-Frame-Options"] = deny[:1:1]
		h["X-Content-Type-Options"] = nosniff[:1:1]
		h["Referrer-Policy"] = noReferrer[:1:1]
		next.ServeHTTP(w, r)
	})
}

// LimitBody caps request bodies at max bytes; zero or less leaves them
// alone.
func LimitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if max <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Timeout bounds how long a handler may work on a request; zero or less
// leaves it unbounded. Requests for which exempt (when not nil) is true
// go through without a deadline of their own: those whose handlers only
// write bytes from memory, for which arming a timer was an eighth of the
// work (the server's write timeout still bounds them).
func Timeout(d time.Duration, exempt func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if exempt != nil && exempt(r) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Chain wraps h in mws, the first outermost.
func Chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// StaticHandler serves prefix+"style.css": the shared stylesheet followed,
// when given, by extraCSS. Browsers may cache it for an hour and revalidate
// it by its ETag; every other path below prefix is not found.
func StaticHandler(prefix string, extraCSS []byte) http.Handler {
	css := baseCSS
	if len(extraCSS) > 0 {
		css = bytes.Join([][]byte{baseCSS, extraCSS}, []byte("\n"))
	}
	sum := sha256.Sum256(css)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	path := prefix + "style.css"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "style.css", time.Time{}, bytes.NewReader(css))
	})
}
