package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pgServer is a PostgreSQL cluster of the test's own, so that the test
// may stop and start it without touching the machine's shared server.
type pgServer struct {
	bin  string // directory holding initdb and pg_ctl
	dir  string // owned by the server's user: data, socket, log
	port int
	// asPostgres runs the tools as the postgres user: they refuse root.
	asPostgres bool
	// conf are extra "name=value" settings given to the server at start.
	conf []string
}

// startPGServer creates and starts a private cluster on a free loopback
// port with trust authentication. Without the server binaries the test
// is skipped, or fails under AUTHGATE_REQUIRE_POSTGRES=1.
func startPGServer(t *testing.T, conf ...string) *pgServer {
	t.Helper()
	pg := newPGServer(t, "postgres", conf...)
	if err := pg.run("initdb", "-D", pg.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		t.Fatal(err)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	return pg
}

// newPGServer prepares a directory and a free port for a private cluster
// whose data directory the caller creates (initdb, pg_basebackup), and
// stops the cluster when the test ends. conf are extra settings
// ("name=value") the server starts with. name labels its log.
func newPGServer(t *testing.T, name string, conf ...string) *pgServer {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(found) == 0 {
		requirePostgres(t, "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
	}
	version := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) < version(found[j]) })
	pg := &pgServer{bin: filepath.Dir(found[len(found)-1]), conf: conf}

	dir, err := os.MkdirTemp("", "authgate-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pg.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			requirePostgres(t, "running as root and there is no postgres user to run initdb as: %v", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			requirePostgres(t, "running as root and runuser is missing: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.asPostgres = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(pg.data(), "postmaster.pid")); err == nil {
			_ = pg.run("pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "-t", "20", "stop")
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(pg.dir, "postgres.log"))
			t.Logf("private PostgreSQL %s log:\n%s", name, log)
		}
	})
	return pg
}

func (pg *pgServer) data() string { return filepath.Join(pg.dir, "data") }

// url is the cluster's postgres database.
func (pg *pgServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", pg.port)
}

// start starts the server and waits until it accepts connections.
func (pg *pgServer) start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=50", pg.port, pg.dir)
	for _, c := range pg.conf {
		opts += " -c " + c
	}
	return pg.run("pg_ctl", "-D", pg.data(), "-l", filepath.Join(pg.dir, "postgres.log"), "-o", opts, "-w", "-t", "30", "start")
}

// stop shuts the server down the way an operator restarting it would:
// sessions are ended, committed work is kept.
func (pg *pgServer) stop() error {
	return pg.run("pg_ctl", "-D", pg.data(), "-m", "fast", "-w", "-t", "30", "stop")
}

// run runs one of the server tools, as the postgres user when needed,
// for at most a minute.
func (pg *pgServer) run(tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(pg.bin, tool)
	var cmd *exec.Cmd
	if pg.asPostgres {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = pg.dir
	// The postmaster pg_ctl starts must not keep our output pipe open.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return nil
}

// freeze stops every process of the cluster with SIGSTOP: connections
// stay open and nothing answers, as in a network partition.
func (pg *pgServer) freeze() error { return pg.signalAll(syscall.SIGSTOP) }

// thaw resumes what freeze stopped.
func (pg *pgServer) thaw() error { return pg.signalAll(syscall.SIGCONT) }

// signalAll sends sig to the postmaster and its children.
func (pg *pgServer) signalAll(sig syscall.Signal) error {
	raw, err := os.ReadFile(filepath.Join(pg.data(), "postmaster.pid"))
	if err != nil {
		return err
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	if err != nil {
		return fmt.Errorf("postmaster.pid: %w", err)
	}
	pids := []int{postmaster}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the parenthesised command: state, then ppid.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 && f[1] == strconv.Itoa(postmaster) {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}
