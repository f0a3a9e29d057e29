package pgtest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNewestBinPicksTheHighestMajorVersionInstalled(t *testing.T) {
	root := t.TempDir()
	for _, major := range []string{"9.6", "15", "16", "17"} {
		dir := filepath.Join(root, major, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if major != "17" { // a folder without server binaries does not count
			if err := os.WriteFile(filepath.Join(dir, "pg_ctl"), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := newestBin(root), filepath.Join(root, "16", "bin"); got != want {
		t.Fatalf("newestBin = %q, want %q", got, want)
	}
	if got := newestBin(filepath.Join(root, "absent")); got != "" {
		t.Fatalf("newestBin of a missing folder = %q, want none", got)
	}
}
