package app_test

import (
	"encoding/json"
	"regexp"

	"github.com/omsonline/oms/cmd/internal/config"
)

func regexpHas(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func flipLast(s string) string {
	last := byte('A')
	if s[len(s)-1] == 'A' {
		last = 'B'
	}
	return s[:len(s)-1] + string(last)
}

type configT = config.Config

// cfgOf is the configuration token() needs: only the data dir matters.
func cfgOf(dir string) config.Config {
	c := config.Defaults()
	c.DataDir = dir
	return c
}
