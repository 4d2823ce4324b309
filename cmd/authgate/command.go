package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/authgate/authgate/internal/app"
)

// The helpers below serve every administrative command (clients, users,
// trusted-ips, login-history).

// subcommand is one "authgate GROUP NAME" command.
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// runGroup runs the subcommand of group that args name.
func runGroup(ctx context.Context, env *cliEnv, group string, subs []subcommand, args []string) error {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: authgate %s SUBCOMMAND [flags]\n\nSubcommands:\n", group)
		for _, s := range subs {
			fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun 'authgate %s SUBCOMMAND --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		fmt.Fprintf(env.stderr, "authgate %s: a subcommand is required\n\n", group)
		groupUsage(env.stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		groupUsage(env.stdout)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.stderr, "authgate %s: unknown subcommand %q\n\n", group, args[0])
	groupUsage(env.stderr)
	return errUsage
}

// positional returns the positional arguments after parse, or a usage error
// unless there is exactly one for each name.
func positional(env *cliEnv, f *flags, names ...string) ([]string, error) {
	args := f.Args()
	if len(args) == len(names) {
		return args, nil
	}
	switch {
	case len(names) == 0:
		fmt.Fprintf(env.stderr, "%s: unexpected argument %q\n", f.Name(), args[0])
	case len(args) < len(names):
		fmt.Fprintf(env.stderr, "%s: missing %s\n", f.Name(), strings.Join(names[len(args):], " "))
	default:
		fmt.Fprintf(env.stderr, "%s: unexpected argument %q after %s\n", f.Name(), args[len(names)], strings.Join(names, " "))
	}
	f.Usage()
	return nil, errUsage
}

// parseArgs parses args and returns the positional arguments, exactly one
// for each name. It returns errHelp after --help, which the command turns
// into success with helpOrErr, and errUsage after a usage error.
func parseArgs(env *cliEnv, f *flags, args []string, names ...string) ([]string, error) {
	if err := f.parse(env, args); err != nil {
		return nil, err
	}
	return positional(env, f, names...)
}

// jsonFlag adds the --json flag of the commands that can print JSON.
func (f *flags) jsonFlag() *bool {
	return f.Bool("json", false, "print JSON")
}

// checkLimit refuses a --limit below 1.
func checkLimit(env *cliEnv, f *flags, limit int) error {
	if limit < 1 {
		fmt.Fprintf(env.stderr, "%s: --limit must be at least 1\n", f.Name())
		return errUsage
	}
	return nil
}

// withApp opens the app from the command's settings, runs fn and closes it.
func withApp(ctx context.Context, env *cliEnv, f *flags, fn func(a *app.App) error) error {
	a, closeApp, err := openApp(ctx, env, f.configPath, false)
	if err != nil {
		return err
	}
	defer closeApp()
	return fn(a)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printItem prints v as JSON with --json, else fields as aligned
// "name: value" lines.
func printItem(env *cliEnv, asJSON bool, v any, fields [][2]string) error {
	if asJSON {
		return printJSON(env.stdout, v)
	}
	return printFields(env.stdout, fields)
}

// table is how a list command shows its items without --json.
type table[T any] struct {
	// empty is the line printed instead of a table without rows.
	empty   string
	headers []string
	// row returns the cells of one item's row.
	row func(T) []string
	// When the items are the first of total, more is printed to stderr
	// under the table: a format for the number shown and total.
	total int64
	more  string
}

// printList prints items: with --json as a JSON array of their views,
// else as t says.
func printList[T, V any](env *cliEnv, asJSON bool, items []T, view func(T) V, t table[T]) error {
	if asJSON {
		out := make([]V, 0, len(items))
		for _, it := range items {
			out = append(out, view(it))
		}
		return printJSON(env.stdout, out)
	}
	if len(items) == 0 {
		fmt.Fprintln(env.stdout, t.empty)
		return nil
	}
	tw := newTable(env.stdout, t.headers...)
	for _, it := range items {
		fmt.Fprintln(tw, strings.Join(t.row(it), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if t.more != "" && int64(len(items)) < t.total {
		fmt.Fprintf(env.stderr, t.more, len(items), t.total)
	}
	return nil
}

// printFields prints aligned "name: value" lines.
func printFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, kv := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// newTable returns a tabwriter with the header line written.
func newTable(w io.Writer, headers ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	return tw
}

// cell makes free text safe for one table cell: control characters (tabs
// and newlines among them) would break the columns.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
