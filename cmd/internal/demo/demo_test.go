package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/app"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/demo"
)

// TestDemoReachesEveryState runs one round of every story against a whole
// omsd and reads each application back: the validator accepted every
// made-up form and each application is in the state its story promises.
func TestDemoReachesEveryState(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.ESDBListen = "127.0.0.1:0", "127.0.0.1:0"
	a, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	key, err := authn.DevKey(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(role, subject string) (string, error) { return authn.IssueDev(key, subject, role, time.Hour) }
	n := 0
	res, err := demo.Run(context.Background(), demo.Options{
		BaseURL: "http://" + a.HTTPAddr(), Applications: demo.Stories(), Seed: 42, Token: tok,
		OnApplication: func() { n++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != demo.Stories() || len(res.Applications) != demo.Stories() {
		t.Fatalf("%d progress calls, %d applications", n, len(res.Applications))
	}
	for _, s := range []string{"submitted", "in_review", "info_requested", "approved", "rejected", "withdrawn", "policy_active"} {
		if res.ByStatus[s] == 0 {
			t.Errorf("no application ends %s: %v", s, res.ByStatus)
		}
	}
	auditor, _ := tok("auditor", "demo-test")
	var renewed, moved bool
	for _, c := range res.Applications {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/api/v1/applications/%s/history?after=%d", a.HTTPAddr(), c.ApplicationID, c.Position), nil)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var h struct {
			Entries []struct {
				Type string `json:"type"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(body, &h); err != nil || len(h.Entries) == 0 {
			t.Fatalf("history of %s: %s", c.ApplicationID, body)
		}
		var types []string
		for _, e := range h.Entries {
			types = append(types, e.Type)
		}
		var view struct {
			Status string `json:"status"`
		}
		req, _ = http.NewRequest("GET", fmt.Sprintf("http://%s/api/v1/applications/%s?after=%d", a.HTTPAddr(), c.ApplicationID, c.Position), nil)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if err != nil || view.Status != c.Status {
			t.Errorf("%s (%s): status %q, want %q (%v)", c.ApplicationID, c.Story, view.Status, c.Status, err)
		}
		renewed = renewed || slices.Contains(types, "PolicyRenewed")
		moved = moved || slices.Contains(types, "AddressChanged")
	}
	if !renewed || !moved {
		t.Errorf("renewed %v, address changed %v", renewed, moved)
	}
}
