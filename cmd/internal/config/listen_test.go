package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/config"
)

// Listen addresses need a port, and the scheduler a sane interval: an
// empty OMS_HTTP_ADDR listened on every interface at a random port, and an
// interval of a millisecond kept an idle node busy.
func TestListenAddressesAndSchedulerInterval(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(*config.Config)
		want string // "" accepts
	}{
		{"defaults", func(*config.Config) {}, ""},
		{"every interface", func(c *config.Config) { c.HTTPAddr = ":8080" }, ""},
		{"empty http", func(c *config.Config) { c.HTTPAddr = "" }, "OMS_HTTP_ADDR"},
		{"http without port", func(c *config.Config) { c.HTTPAddr = "127.0.0.1" }, "OMS_HTTP_ADDR"},
		{"http with empty port", func(c *config.Config) { c.HTTPAddr = "127.0.0.1:" }, "OMS_HTTP_ADDR"},
		{"empty embedded store", func(c *config.Config) { c.ESDBListen = "" }, "OMS_ESDB_LISTEN"},
		{"external store needs no listener", func(c *config.Config) {
			c.ESDBListen, c.ESDBURL = "", "esdb://127.0.0.1:2113?tls=false"
		}, ""},
		{"scheduler every ms", func(c *config.Config) { c.SchedulerInterval = time.Millisecond }, "OMS_SCHEDULER_INTERVAL"},
		{"scheduler zero", func(c *config.Config) { c.SchedulerInterval = 0 }, "OMS_SCHEDULER_INTERVAL"},
		{"scheduler every second", func(c *config.Config) { c.SchedulerInterval = time.Second }, ""},
		{"advertised address", func(c *config.Config) { c.AdvertiseURL = "http://10.0.0.5:8080/" }, ""},
		{"advertised address without a scheme", func(c *config.Config) { c.AdvertiseURL = "10.0.0.5:8080" }, "OMS_ADVERTISE_URL"},
		{"advertised address with a password", func(c *config.Config) { c.AdvertiseURL = "http://u:p@10.0.0.5:8080" }, "OMS_ADVERTISE_URL"},
	} {
		c := config.Defaults()
		c.DataDir = t.TempDir()
		tc.tune(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want a refusal naming %s", tc.name, err, tc.want)
		}
	}
}
