package main

import (
	"strings"
	"testing"
	"time"
)

func TestLogWriterFlushes(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out, 20*time.Millisecond)
	if _, err := lw.Write([]byte("line one\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "line one") {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not flushed by the ticker")
		}
		time.Sleep(5 * time.Millisecond)
	}
	warn := `{"level":"WARN","msg":"now"}` + "\n"
	if _, err := lw.Write([]byte(warn)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, warn) {
		t.Fatalf("a warning was buffered: got %q", got)
	}
	if _, err := lw.Write([]byte("line two\n")); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "line one\n"+warn+"line two\n" {
		t.Fatalf("got %q, want both lines once, in order", got)
	}
}
