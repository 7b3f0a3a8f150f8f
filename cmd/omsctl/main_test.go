package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The settings omsctl reads show in its help; the rest of omsd's parse but
// stay out of it. A renamed setting would otherwise vanish from the help
// without anyone noticing.
func TestHelpShowsOnlyTheSettingsOmsctlUses(t *testing.T) {
	flags := root().PersistentFlags()
	for name := range usedByOmsctl {
		f := flags.Lookup(name)
		if f == nil || f.Hidden {
			t.Errorf("--%s: missing or hidden (%+v)", name, f)
		}
	}
	if f := flags.Lookup("smtp-url"); f == nil || !f.Hidden {
		t.Errorf("--smtp-url should parse but stay out of the help: %+v", f)
	}
}

// Help about a command takes its arguments as cobra's did: "help
// projections rebuild cabinet" is rebuild's help (review).
func TestHelpTakesACommandsArguments(t *testing.T) {
	for _, args := range [][]string{{"help", "projections", "rebuild", "cabinet"}, {"help", "token"}, {"help"}} {
		cmd := root()
		var out strings.Builder
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("%q: %v, %q", args, err, out.String())
		}
	}
}

// A progress bar's first frame is drawn before the first item, not at it
// with that item's rate over microseconds ("1108647 /s").
func TestBarStartsWithoutARateFromOneItem(t *testing.T) {
	var b strings.Builder
	bar := newBarTo(&b, 45000, "uploading scans", "scans")
	_ = bar.Add(1)
	if !strings.Contains(b.String(), "0/45000") || strings.Contains(b.String(), "1/45000") {
		t.Fatalf("first frames: %q", b.String())
	}
}

// Mistakes on the command line are refused in both languages, saying what
// to do; none runs a command as if it were meant (QA: extra arguments were
// ignored, and cobra's refusals were English only).
func TestCommandLineRefusals(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"projections", "parked", "extra"}, []string{"лишние аргументы", "unexpected arguments: extra"}},
		{[]string{"demo", "extra-arg", "-n", "1"}, []string{"лишние аргументы", "unexpected arguments: extra-arg"}},
		{[]string{"projections", "rebuild"}, []string{"укажите одну проекцию", "name one projection", "cabinet", "history", "queue"}},
		{[]string{"projections", "replay-parked", "a", "b"}, []string{"name one projection"}},
		{[]string{"token", "--role", "applicant"}, []string{"укажите --subject", "give --subject"}},
		{[]string{"token", "--subject", "x", "--ttl", "100000h"}, []string{"--ttl должен", "--ttl must be between 1s and 168h0m0s"}},
		{[]string{"history", "x", "--at", "2026-01-01T00:00:00Z", "--revision", "1"}, []string{"не оба", "not both"}},
		{[]string{"history", "x", "--revision", "abc"}, []string{"неверный флаг", "bad flag or value"}},
		{[]string{"history"}, []string{"нужен ровно один аргумент", "exactly one argument"}},
		{[]string{"history", "x/y"}, []string{"не id заявления", "is not an application id"}},
		{[]string{"history", "x", "--at", "yesterday"}, []string{"не время в формате RFC 3339", "is not an RFC 3339 time"}},
		{[]string{"history", "x", "--revision", "-1"}, []string{"не может быть отрицательным", "must not be negative"}},
		{[]string{"foo"}, []string{"нет команды \"foo\"", "no command \"foo\"", "projections"}},
		{[]string{"help", "bogus"}, []string{"нет команды \"bogus\", справки", "no command \"bogus\" to help with", "projections"}},
		{[]string{"help", "projections", "bogus"}, []string{"no command \"projections bogus\" to help with; there are: parked, rebuild, replay-parked, status"}},
		{[]string{"completion", "bash", "extra"}, []string{"лишние аргументы", "unexpected arguments: extra"}},
		{[]string{"completion", "foo"}, []string{"нет скрипта дополнения для \"foo\"", "no completion script for \"foo\"; there are: bash, fish, powershell, zsh"}},
		{[]string{"token", "--subject", "x", "--ttl", "500ms"}, []string{"--ttl must be between 1s"}},
		{[]string{"token", "--subject", "x", "--data-dir", "/etc/hostname"}, []string{"не удалось прочитать ключ omsd", "cannot read omsd's key in /etc/hostname"}},
		{[]string{"projections", "status", "--data-dir", missing}, []string{"нет ключа omsd", "no omsd key in " + missing}},
		{[]string{"erasures", "extra"}, []string{"лишние аргументы", "unexpected arguments: extra"}},
		{[]string{"token", "--role", "god", "--subject", "x"}, []string{"нет такой роли", "no such role; there are applicant"}},
		{[]string{"demo", "-n", "0"}, []string{"-n: не меньше 1", "-n must be at least 1, not 0"}},
		{[]string{"load", "--rate", "0"}, []string{"--rate: положительное число", "--rate must be a positive number"}},
		{[]string{"load", "--duration", "0s"}, []string{"--duration: больше нуля", "--duration must be positive"}},
		{[]string{"load", "--submit-share", "2"}, []string{"--submit-share: больше 0", "--submit-share must be above 0"}},
		{[]string{"history", ""}, []string{"аргумент пуст", "the argument is empty"}},
		{[]string{"erase", " ", "--basis", "subject_request", "--yes"}, []string{"аргумент пуст", "the argument is empty"}},
		{[]string{"erase", "x", "--basis", "because"}, []string{"--basis: одно из", "--basis must be one of"}},
		{[]string{"erase", "x", "--basis", "subject_request"}, []string{"повторите команду с --yes", "run it again with --yes"}},
	} {
		cmd := root()
		cmd.SetArgs(c.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if err == nil {
			t.Errorf("%q: ran", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v; want %q in it", c.args, err, w)
			}
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a mistyped --data-dir was created: %v", err)
	}
}
