package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	fail := func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sorry", http.StatusInternalServerError)
	}
	mw := Recover(logger, fail)

	rec := httptest.NewRecorder()
	mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "sorry") {
		t.Errorf("after a panic: got %d %q, want the surface's 500", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "panic serving request") || !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "middleware_test.go") {
		t.Errorf("log line lacks the panic or its stack:\n%s", logs.String())
	}

	// A panic after the answer began aborts the connection instead of
	// appending an error to a half-written body.
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("panic after the header: recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		rec := httptest.NewRecorder()
		mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic("late")
		})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	}()

	// No panic: the handler's answer is untouched.
	rec = httptest.NewRecorder()
	mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("without a panic: got %d, want 418", rec.Code)
	}
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	rec := NewRecorder(httptest.NewRecorder())
	if rec.Started() || rec.Status() != http.StatusOK {
		t.Errorf("fresh recorder: started %v, status %d", rec.Started(), rec.Status())
	}
	_, _ = rec.Write([]byte("hello"))
	rec.WriteHeader(http.StatusNotFound) // too late: the first status stands
	if !rec.Started() || rec.Status() != http.StatusOK || rec.Bytes() != 5 {
		t.Errorf("after a write: started %v, status %d, bytes %d; want true, 200, 5", rec.Started(), rec.Status(), rec.Bytes())
	}
}
