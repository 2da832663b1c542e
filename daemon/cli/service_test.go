package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"smsgw/systemd"
)

func TestUnitTemplateChangesOnlyExecStart(t *testing.T) {
	tpl := unitTemplate(systemd.Unit)
	want := "ExecStart={{.Path|cmdEscape}}{{range .Arguments}} {{.|cmd}}{{end}}"
	if !strings.Contains(tpl, want) || strings.Contains(tpl, "/usr/local/bin/smsgw run") {
		t.Fatalf("ExecStart not templated:\n%s", tpl)
	}
	unitLines := strings.Split(systemd.Unit, "\n")
	tplLines := strings.Split(tpl, "\n")
	if len(unitLines) != len(tplLines) {
		t.Fatalf("line count changed: %d → %d", len(unitLines), len(tplLines))
	}
	for i := range unitLines {
		if unitLines[i] != tplLines[i] && !strings.HasPrefix(unitLines[i], "ExecStart=") {
			t.Errorf("line %d changed: %q → %q", i+1, unitLines[i], tplLines[i])
		}
	}
	for _, keep := range []string{"Type=notify", "User=smsgw", "NoNewPrivileges=yes", "RuntimeDirectory=smsgw"} {
		if !strings.Contains(tpl, keep) {
			t.Errorf("template lost %q", keep)
		}
	}
	cfg := serviceConfig("/etc/smsgw/smsgw.yaml")
	if strings.Join(cfg.Arguments, " ") != "run --config /etc/smsgw/smsgw.yaml" || cfg.Name != "smsgw" {
		t.Fatalf("service config %+v", cfg)
	}
}

func TestWriteSystemdSupport(t *testing.T) {
	root := t.TempDir()
	if err := writeSystemdSupport(root); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{"sysusers.d": systemd.Sysusers, "tmpfiles.d": systemd.Tmpfiles} {
		got, err := os.ReadFile(filepath.Join(root, dir, "smsgw.conf"))
		if err != nil || string(got) != want {
			t.Errorf("%s: %v\n%s", dir, err, got)
		}
	}
	if !strings.Contains(systemd.Sysusers, "m smsgw dialout") {
		t.Error("the smsgw user is not put in dialout")
	}
}

// TestInstallChecksItsArguments covers what install refuses before it
// touches the system.
func TestInstallChecksItsArguments(t *testing.T) {
	dir := t.TempDir()
	a, _, errb := testApp(nil, dir)
	if code := a.main(context.Background(), []string{"install"}); code != exitUsage || !strings.Contains(errb.String(), "--config") {
		t.Fatalf("install without --config: code %d, %s", code, errb)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("drivers: []\nnope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _, errb = testApp(nil, dir)
	if code := a.main(context.Background(), []string{"install", "--config", bad}); code != exitError || !strings.Contains(errb.String(), "not a valid configuration") {
		t.Fatalf("install with a bad config: code %d, %s", code, errb)
	}
}
