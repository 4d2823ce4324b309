package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"a","Test":"TestPG"}`,
		`{"Action":"output","Package":"a","Test":"TestPG","Output":"=== RUN   TestPG\n"}`,
		`{"Action":"output","Package":"a","Test":"TestPG","Output":"    testdb.go:40: PostgreSQL is not reachable at 127.0.0.1:5432\n"}`,
		`{"Action":"output","Package":"a","Test":"TestPG","Output":"--- SKIP: TestPG (0.00s)\n"}`,
		`{"Action":"skip","Package":"a","Test":"TestPG"}`,
		`{"Action":"output","Package":"b","Test":"TestOther","Output":"    other_test.go:9: PostgreSQL is not reachable at 127.0.0.1:5432\n"}`,
		`{"Action":"skip","Package":"b","Test":"TestOther"}`,
		`{"Action":"output","Package":"a","Test":"TestBad","Output":"--- FAIL: TestBad (0.01s)\n    x_test.go:3: got 1, want 2\n"}`,
		`{"Action":"fail","Package":"a","Test":"TestBad"}`,
		`{"Action":"output","Package":"a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"a","Test":"TestOK"}`,
		`{"Action":"output","Package":"a","Output":"FAIL\ta\t0.1s\n"}`,
		`{"Action":"fail","Package":"a"}`,
		`{"Action":"output","Package":"b","Output":"ok  \tb\t0.2s\n"}`,
		`{"Action":"pass","Package":"b"}`,
		`not json`,
	}, "\n")
	var out strings.Builder
	failed, err := summarize(strings.NewReader(in), &out)
	if err != nil || !failed {
		t.Fatalf("summarize: failed=%t err=%v, want failed", failed, err)
	}
	got := out.String()
	for _, want := range []string{
		"--- FAIL: TestBad (0.01s)\n    x_test.go:3: got 1, want 2\n",
		"FAIL\ta\t0.1s\n", "ok  \tb\t0.2s\n", "not json\n",
		"Skipped: 2 tests, for 1 reasons.",
		"2 skipped: PostgreSQL is not reachable at 127.0.0.1:5432\n    a TestPG\n    b TestOther\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "TestOK") || strings.Contains(got, "=== RUN") {
		t.Errorf("output shows a passing test:\n%s", got)
	}

	// A package that times out: the test that never ended shows.
	out.Reset()
	failed, _ = summarize(strings.NewReader(strings.Join([]string{
		`{"Action":"output","Package":"d","Test":"TestHang","Output":"=== RUN   TestHang\n    hang_test.go:5: waiting\n"}`,
		`{"Action":"output","Package":"d","Output":"panic: test timed out after 1s\n"}`,
		`{"Action":"fail","Package":"d"}`,
	}, "\n")), &out)
	if !failed || !strings.Contains(out.String(), "hang_test.go:5: waiting") || !strings.Contains(out.String(), "panic: test timed out") {
		t.Errorf("a timed-out package: failed=%t\n%s", failed, out.String())
	}

	out.Reset()
	failed, _ = summarize(strings.NewReader(`{"Action":"output","Package":"c","Output":"ok  \tc\t0.1s\n"}`+"\n"+`{"Action":"pass","Package":"c"}`), &out)
	if failed || !strings.Contains(out.String(), "Skipped: none.") {
		t.Errorf("a clean run: failed=%t\n%s", failed, out.String())
	}
}
