package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/admin"
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
)

// apiClient calls a running omsd: with the token in OMS_TOKEN if set (a
// deployment with an OIDC issuer needs one from the issuer), otherwise with
// a dev token signed by the key in the shared data directory.
type apiClient struct {
	base  string
	token string
	http  *http.Client
	// resign, for a token omsctl signs itself, signs a fresh one once
	// expires is near: a rebuild polled past the token's life got 401s
	// (ops QA). Nil for a token given in OMS_TOKEN.
	resign  func() (string, error)
	expires time.Time
}

// devTokenTTL is the life of a token omsctl signs; it signs another when
// one has less than a minute left.
const devTokenTTL = 10 * time.Minute

// TokenEnv names the variable that carries a bearer token for omsctl.
const TokenEnv = "OMS_TOKEN"

func newAPIClient(cfg *config.Config, role string) (*apiClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if tok := os.Getenv(TokenEnv); tok != "" {
		return &apiClient{base: "http://" + cfg.HTTPAddr, token: tok, http: &http.Client{Timeout: 60 * time.Second}}, nil
	}
	if cfg.OIDCIssuer != "" {
		return nil, fmt.Errorf("this deployment authenticates through the OIDC issuer %s: put a %s token from it in %s", cfg.OIDCIssuer, role, TokenEnv)
	}
	key, err := devKey(cfg)
	if err != nil {
		return nil, err
	}
	c := &apiClient{base: "http://" + cfg.HTTPAddr, http: &http.Client{Timeout: 60 * time.Second},
		resign: func() (string, error) { return authn.IssueDev(key, "omsctl", role, devTokenTTL) }}
	if err := c.fresh(); err != nil {
		return nil, err
	}
	return c, nil
}

// fresh signs a new token when the one held is near its end.
func (c *apiClient) fresh() error {
	if c.resign == nil || time.Until(c.expires) > time.Minute {
		return nil
	}
	tok, err := c.resign()
	if err != nil {
		return err
	}
	c.token, c.expires = tok, time.Now().Add(devTokenTTL)
	return nil
}

func (c *apiClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if err := c.fresh(); err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return unreachable(c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return refusal(method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return notJSON(method, path, c.base, err)
		}
	}
	return nil
}

func projectionsCmd(cfg *config.Config) *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Inspect and operate the projections of a running omsd",
		// Without this, a mistyped subcommand printed the help and exited 0.
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Position, lag, generation and lease term of every projection",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(cfg, "admin")
			if err != nil {
				return err
			}
			var rows []admin.ProjectionStatus
			if err := c.do("GET", "/api/v1/admin/projections", nil, &rows); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROJECTION\tPOSITION\tHEAD\tBEHIND\tGENERATION\tTERM\tUPDATED\tRUNS ON")
			for _, r := range rows {
				holder := r.Holder
				if holder == "" {
					holder = "-"
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Name, r.Position, r.Head, r.EventsBehind, r.Generation, r.Term, r.UpdatedAt.Format(time.RFC3339), holder)
			}
			return w.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rebuild NAME",
		Short: "Rebuild a projection into fresh collections while the old ones serve, then switch",
		Long: `rebuild builds a projection's collections afresh from the start of the event log
while the current ones keep serving, then switches to the new ones in one step
and drops the old. NAME is one of the projections omsd runs: cabinet, history,
queue, renewals, policies (omsctl projections status lists them). The progress
bar shows the share of the event log read (its positions are bytes, hence the
share and the time left rather than a count) and the events and events/s so
far; the line at the end gives the totals.`,
		Args: projectionArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(cfg, "admin")
			if err != nil {
				return err
			}
			// The generation before, to tell a rebuild that finished where
			// this poll cannot see it from one that never ran.
			before := -1
			var rows0 []admin.ProjectionStatus
			if err := c.do("GET", "/api/v1/admin/projections", nil, &rows0); err != nil {
				return err
			}
			for _, r := range rows0 {
				if r.Name == args[0] {
					before = r.Generation
				}
			}
			// The answer is this rebuild's record: its start tells it from
			// the record of an earlier one that another node behind a load
			// balancer may show, finished, which was reported as this
			// one's success (review).
			var started admin.Rebuild
			if err := c.do("POST", "/api/v1/admin/projections/"+url.PathEscape(args[0])+"/rebuild", nil, &started); err != nil {
				return err
			}
			// Positions are byte offsets: they drive the share done and the
			// time left, while the description counts events.
			bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("rebuilding "+args[0]),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
			// A node other than the one that took the request (behind a
			// load balancer, or after a restart) has no record of the
			// rebuild: polled forever, omsctl said nothing (ops QA).
			unseen := 0
			for {
				time.Sleep(250 * time.Millisecond)
				var rows []admin.ProjectionStatus
				if err := c.do("GET", "/api/v1/admin/projections", nil, &rows); err != nil {
					return err
				}
				seen := false
				for _, r := range rows {
					if r.Name != args[0] {
						continue
					}
					rb := r.Rebuild
					if rb != nil && !started.StartedAt.IsZero() && !rb.StartedAt.Equal(started.StartedAt) {
						rb = nil // another rebuild's record
					}
					if rb == nil {
						if unseen++; unseen < rebuildUnseenPolls {
							seen = true // not yet: the node may still be starting it
							continue
						}
						_ = bar.Finish()
						fmt.Fprintln(cmd.ErrOrStderr())
						if before >= 0 && r.Generation > before {
							fmt.Fprintf(cmd.OutOrStdout(), "%s rebuilt: generation %d serves (the node answering has no record of the rebuild's figures)\n", args[0], r.Generation)
							return nil
						}
						return fmt.Errorf("узел, который отвечает, не знает об этой перестройке %[1]s (другой узел за балансировщиком или omsd перезапущен); проверьте omsctl projections status / "+
							"the node answering has no record of this rebuild of %[1]s (another node behind the load balancer, or omsd restarted); check omsctl projections status", args[0])
					}
					seen = true
					unseen = 0
					if rb.Running {
						// The rate as of the node's last report, timed by the
						// node itself (so the two hosts' clocks need not
						// agree): divided by the time since it, the rate fell
						// between two reports.
						bar.Describe(fmt.Sprintf("rebuilding %s: %d events, %.0f events/s", args[0], rb.Events, rb.EventsPerS))
					}
					if rb.Head > 0 {
						bar.ChangeMax64(int64(rb.Head))
						_ = bar.Set64(int64(rb.Position))
					}
					if !rb.Running {
						_ = bar.Finish()
						fmt.Fprintln(cmd.ErrOrStderr())
						if rb.Error != "" {
							return fmt.Errorf("rebuild of %s failed: %s", args[0], rb.Error)
						}
						fmt.Fprintf(cmd.OutOrStdout(), "%s rebuilt: %d events in %s (%.0f events/s), switched to the new collections\n",
							args[0], rb.Events, rb.FinishedAt.Sub(rb.StartedAt).Round(time.Millisecond), rb.EventsPerS)
						return nil
					}
				}
				if !seen {
					return fmt.Errorf("узел, который отвечает, не знает проекции %[1]s / the node answering has no projection %[1]s", args[0])
				}
			}
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "parked",
		Args:  noArgs,
		Short: "List messages the projections parked after their retries ran out",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAPIClient(cfg, "admin")
			if err != nil {
				return err
			}
			var rows []admin.ParkedRow
			if err := c.do("GET", "/api/v1/admin/parked", nil, &rows); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROJECTION\tSTREAM\tTYPE\tPOSITION\tPARKED AT\tREASON")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Projection, r.Stream, r.Type, r.Position, r.ParkedAt, r.Reason)
			}
			return w.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "replay-parked NAME",
		Short: "Re-apply a projection's parked messages, after a fix",
		Args:  projectionArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAPIClient(cfg, "admin")
			if err != nil {
				return err
			}
			var out struct {
				Replayed int    `json:"replayed"`
				Error    string `json:"error"`
			}
			if err := c.do("POST", "/api/v1/admin/projections/"+url.PathEscape(args[0])+"/replay-parked", nil, &out); err != nil {
				return err // no count: nothing was replayed that omsd confirmed
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d parked messages of %s\n", out.Replayed, args[0])
			return nil
		},
	})
	return cmd
}

// rebuildUnseenPolls is how many polls in a row (a quarter second apart)
// may find no record of a rebuild just asked for before omsctl says so.
const rebuildUnseenPolls = 12
