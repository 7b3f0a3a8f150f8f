package app_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/config"
)

// A node started with OMS_ADVERTISE_URL holds the projections' lease under
// its id and that address, so that the status (omsctl's RUNS ON) and a
// not_leader refusal elsewhere say where to send a rebuild.
func TestLeaseHolderCarriesTheAdvertisedAddress(t *testing.T) {
	a, cfg := startWithLog(t, slog.NewTextHandler(io.Discard, nil), func(c *config.Config) { c.AdvertiseURL = "http://node-a.example:8080/" })
	c := newClient(t, a, cfg)
	var rows []struct {
		Name, Holder string
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.must(req{method: "GET", path: "/api/v1/admin/projections", token: c.token("admin", "admin-1")}, 200, &rows)
		if len(rows) > 0 && rows[0].Holder != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no holder in the status: %+v", rows)
		}
	}
	for _, r := range rows {
		if !strings.HasSuffix(r.Holder, "@http://node-a.example:8080") {
			t.Fatalf("%s runs on %q, without the advertised address", r.Name, r.Holder)
		}
	}
}
