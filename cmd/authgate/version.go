package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is the release this binary is, when the build names it:
// go build -ldflags "-X main.version=v1.2.3" ./cmd/authgate (the Dockerfile
// passes its VERSION build argument). It is the one package-level
// variable of the command, because -X can set nothing else.
var version string

// buildVersion returns the version: the -ldflags value, else the module
// version go install records for a tagged release, else "devel" with the
// commit the build info names (and "-dirty" for uncommitted changes).
func buildVersion(linked string, info *debug.BuildInfo, ok bool) string {
	if linked != "" {
		return linked
	}
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel+" + rev + dirty
}

// printVersion writes "authgate VERSION (GO VERSION OS/ARCH)".
func printVersion(w io.Writer) {
	info, ok := debug.ReadBuildInfo()
	fmt.Fprintf(w, "authgate %s (%s %s/%s)\n", buildVersion(version, info, ok), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
