package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"smsgw/daemon/cli"
	"smsgw/daemon/client"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"smsgw": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Unix socket paths are short; run each script in a short directory.
			dir, err := os.MkdirTemp("", "smsgw")
			if err != nil {
				return err
			}
			env.Defer(func() { _ = os.RemoveAll(dir) })
			env.Setenv("RUNDIR", dir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"wait-ready": waitReady,
			"capture-id": captureID,
		},
	})
}

// waitReady waits until a daemon answers on the socket given as argument.
// The deadline guards against a hang only.
func waitReady(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: wait-ready SOCKET")
	}
	c := client.NewUnix(ts.MkAbs(args[0]))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Health(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("daemon not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var idPattern = regexp.MustCompile(`"id": "([0-9A-HJKMNP-TV-Z]{26})"`)

// captureID sets $ID from the first message id in the last command's stdout.
func captureID(ts *testscript.TestScript, neg bool, args []string) {
	m := idPattern.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("no message id in stdout")
	}
	ts.Setenv("ID", m[1])
}

func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "smsgw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Clean(dir)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
