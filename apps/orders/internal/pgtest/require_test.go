package pgtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requireChildEnv marks the copy of this test binary that calls Require for real.
const requireChildEnv = "MERIDIAN_PGTEST_REQUIRE_CHILD"

// TestRequireWithoutServerChild is the body the tests below run in a copy of this test binary:
// this package starts no server (it has no TestMain), so Require meets the "no PostgreSQL" branch.
func TestRequireWithoutServerChild(t *testing.T) {
	if os.Getenv(requireChildEnv) != "1" {
		return // only meaningful in the child process
	}
	Require(t)
	t.Log("Require returned without a server")
}

// runRequire runs the child with CI set to ci (unset when ci is nil) and returns its output and
// whether it failed.
func runRequire(t *testing.T, ci *string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRequireWithoutServerChild$", "-test.v", "-test.count=1")
	env := []string{requireChildEnv + "=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, requireChildEnv+"=") {
			env = append(env, kv)
		}
	}
	if ci != nil {
		env = append(env, "CI="+*ci)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, exited := err.(*exec.ExitError); !exited {
			t.Fatalf("running the child test binary: %v", err)
		}
	}
	return string(out), err != nil
}

func TestRequireFailsWithoutPostgresWhenCIIsSet(t *testing.T) {
	for _, ci := range []string{"true", "1", "yes"} {
		out, failed := runRequire(t, &ci)
		if !failed {
			t.Fatalf("CI=%s: Require without a server passed; want a failure\n%s", ci, out)
		}
		for _, want := range []string{
			"--- FAIL: TestRequireWithoutServerChild",
			ErrNoPostgres.Error(),
			"CI is set: install the apt group, `meridian tools install --group apt`",
		} {
			if !strings.Contains(out, want) {
				t.Fatalf("CI=%s: output lacks %q\n%s", ci, want, out)
			}
		}
		if strings.Contains(out, "Require returned without a server") {
			t.Fatalf("CI=%s: the test went on after Require\n%s", ci, out)
		}
	}
}

func TestRequireSkipsWithoutPostgresOnADevelopersMachine(t *testing.T) {
	unsetOrFalse := []*string{nil, ptr(""), ptr("false"), ptr("0"), ptr("no")}
	for _, ci := range unsetOrFalse {
		out, failed := runRequire(t, ci)
		if failed {
			t.Fatalf("CI=%v: Require without a server failed; want a skip\n%s", describe(ci), out)
		}
		if !strings.Contains(out, "--- SKIP: TestRequireWithoutServerChild") || !strings.Contains(out, ErrNoPostgres.Error()) {
			t.Fatalf("CI=%v: want a skip naming the missing server\n%s", describe(ci), out)
		}
	}
}

func ptr(s string) *string { return &s }

func describe(ci *string) string {
	if ci == nil {
		return "(unset)"
	}
	return "\"" + *ci + "\""
}
