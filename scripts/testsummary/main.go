// Command testsummary reads `go test -json` on its standard input and
// prints what a plain `go test` prints (each package's result line, and the
// whole output of every failed test), then a summary of every test that
// skipped, grouped by the reason it gave. It exits 1 when a package failed
// or did not build. .ci/run pipes the full test run through it:
//
//	go test -json ./... -count=1 -timeout 30m | go run ./scripts/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// skipLine is the file:line prefix of a t.Skip message.
var skipLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// summarize copies the result lines and failures from r to w, then the
// skip summary, and reports whether anything failed.
func summarize(r io.Reader, w io.Writer) (failed bool, err error) {
	type key struct{ pkg, test string }
	outputs := map[key][]string{}
	skips := map[string][]string{} // reason -> "pkg TestName"
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(w, string(line)) // not an event: pass it on
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			failed = true
		case "output":
			outputs[k] = append(outputs[k], e.Output)
		case "fail":
			failed = true
			if e.Test == "" {
				// A package that fails as a whole (a panic, a timeout)
				// may leave tests that never ended: their output too.
				for other, out := range outputs {
					if other.pkg == e.Package && other.test != "" {
						fmt.Fprint(w, strings.Join(out, ""))
						delete(outputs, other)
					}
				}
			}
			fmt.Fprint(w, strings.Join(outputs[k], ""))
			delete(outputs, k)
		case "pass", "skip":
			if e.Test == "" {
				for _, l := range outputs[k] {
					if l != "PASS\n" { // go test without -v prints only the ok line
						fmt.Fprint(w, l)
					}
				}
			} else if e.Action == "skip" {
				reason := skipReason(outputs[k])
				skips[reason] = append(skips[reason], e.Package+" "+e.Test)
			}
			delete(outputs, k)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	writeSkips(w, skips)
	return failed, nil
}

// skipReason is the message a skipped test gave, without the file:line
// prefixes, so that the same reason from different places groups.
func skipReason(out []string) string {
	var msg []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msg = append(msg, strings.TrimSpace(skipLine.ReplaceAllString(l, "")))
	}
	if len(msg) == 0 {
		return "(no reason given)"
	}
	return strings.Join(msg, " ")
}

func writeSkips(w io.Writer, skips map[string][]string) {
	n := 0
	for _, tests := range skips {
		n += len(tests)
	}
	if n == 0 {
		fmt.Fprintln(w, "\nSkipped: none.")
		return
	}
	reasons := make([]string, 0, len(skips))
	for r := range skips {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "\nSkipped: %d tests, for %d reasons.\n", n, len(reasons))
	for _, r := range reasons {
		tests := skips[r]
		sort.Strings(tests)
		fmt.Fprintf(w, "\n%d skipped: %s\n", len(tests), r)
		for _, t := range tests {
			fmt.Fprintf(w, "    %s\n", t)
		}
	}
}
