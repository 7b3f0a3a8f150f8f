package config_test

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/config"
)

// An environment value that does not parse stops nothing that does not
// use it: the setting's flag wins over it, and -h still prints the usage.
// Otherwise it is refused, naming the variable.
func TestBadEnvironmentValueYieldsToItsFlag(t *testing.T) {
	t.Setenv("OMS_SLA_DAYS", "abc")
	t.Setenv("OMS_AUTO_ISSUE", "perhaps")
	parse := func(args ...string) (config.Config, error) {
		c := config.Defaults()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := c.Register(fs); err != nil {
			return c, err
		}
		if err := fs.Parse(append([]string{"-data-dir", t.TempDir()}, args...)); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	if _, err := parse("-h"); err != flag.ErrHelp {
		t.Fatalf("-h: %v, want the usage", err)
	}
	if _, err := parse("-auto-issue=false"); err == nil || !strings.Contains(err.Error(), "OMS_SLA_DAYS") {
		t.Fatalf("OMS_SLA_DAYS unparsed and its flag not given: %v", err)
	}
	c, err := parse("-sla-days", "5", "-auto-issue=true")
	if err != nil || c.SLADays != 5 || !c.AutoIssue {
		t.Fatalf("both flags given: %v, %d days, auto-issue %t", err, c.SLADays, c.AutoIssue)
	}
	// A boolean flag still takes no argument.
	c, err = parse("-sla-days", "5", "-auto-issue")
	if err != nil || !c.AutoIssue {
		t.Fatalf("-auto-issue alone: %v %t", err, c.AutoIssue)
	}
}

// -h prints every flag with its default and nothing else (QA: the flag
// package's probe of a zero value of the wrapper panicked, and -h printed
// a line "panic calling String method" for every flag).
func TestUsagePrintsCleanly(t *testing.T) {
	c := config.Defaults()
	fs := flag.NewFlagSet("omsd", flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	if err := c.Register(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-h"}); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	if strings.Contains(out.String(), "panic") {
		t.Fatalf("usage:\n%s", out.String())
	}
	for _, want := range []string{"-sla-days", "(default 10)", "-auto-issue", "-http-addr"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
