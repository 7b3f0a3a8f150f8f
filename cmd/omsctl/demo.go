package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/cmd/internal/demo"
)

// devTokens signs dev tokens with the key of the shared data directory, as
// omsd verifies them.
func devTokens(cfg *config.Config) (func(role, subject string) (string, error), error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.OIDCIssuer != "" {
		return nil, fmt.Errorf("demo и load входят от имени вымышленных людей с токенами режима разработки, а здесь вход через OIDC-провайдера %[1]s: запускайте их на omsd в режиме разработки / "+
			"demo and load sign in as many made-up people with dev tokens; this deployment authenticates through the OIDC issuer %[1]s, so run them against a dev-mode omsd", cfg.OIDCIssuer)
	}
	key, err := devKey(cfg)
	if err != nil {
		return nil, err
	}
	return func(role, subject string) (string, error) { return authn.IssueDev(key, subject, role, 2*time.Hour) }, nil
}

// devKey is the key omsd signs and checks dev tokens with. It lives in
// omsd's data dir; no key there means omsd keeps its key elsewhere (or
// never ran), and a key made up here would sign tokens omsd refuses, so
// none is made (QA: a mistyped --data-dir got a new key, and a 401).
func devKey(cfg *config.Config) (ed25519.PrivateKey, error) {
	key, err := authn.LoadDevKey(cfg.DevKeyDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("в %[1]s нет ключа omsd: omsctl подписывает токены ключом, который omsd держит в своём каталоге данных; запустите omsd или укажите OMS_DATA_DIR (или OMS_DEV_KEY_DIR) его каталога / "+
			"no omsd key in %[1]s: omsctl signs dev tokens with the key omsd keeps in its data dir; start omsd first, or point OMS_DATA_DIR (or OMS_DEV_KEY_DIR) at the dir it uses", cfg.DevKeyDir)
	}
	if err != nil {
		return nil, fmt.Errorf("не удалось прочитать ключ omsd в %[1]s / cannot read omsd's key in %[1]s: %w", cfg.DevKeyDir, err)
	}
	return key, nil
}

func newBar(max int64, desc, unit string) *progressbar.ProgressBar {
	return newBarTo(os.Stderr, max, desc, unit)
}

// newBarTo is newBar on w. The bar is drawn empty when made: drawn first
// at the first item, it showed that item's rate over a few microseconds
// (a million a second), and the throttle then held that frame.
func newBarTo(w io.Writer, max int64, desc, unit string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true))
}

func demoCmd(cfg *config.Config) *cobra.Command {
	var n, workers int
	var seed uint64
	c := &cobra.Command{
		Use:   "demo",
		Short: "Fill a running omsd with realistic applications in every state",
		Long: `demo creates made-up applicants from the countries most applicants come from,
with valid passports, residence documents, addresses across Russia and scans,
and takes their applications through the API to every state: submitted, in
review, information requested, answered, approved, rejected, withdrawn, with
an active policy, some with a changed address or a renewed term, and some
brought in by an МФЦ operator. It calls omsd over HTTP as the people's
clients do, with dev tokens from the shared data directory.`,
		Example: `  omsctl demo
  omsctl demo -n 500 --workers 8`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// demo.Run reads a count of zero as "one of each story"; from
			// the command line that would create applications nobody asked
			// for.
			if n < 1 {
				return fmt.Errorf("-n: не меньше 1, а не %[1]d / -n must be at least 1, not %[1]d", n)
			}
			if workers < 1 {
				return fmt.Errorf("--workers: не меньше 1, а не %[1]d / --workers must be at least 1, not %[1]d", workers)
			}
			tok, err := devTokens(cfg)
			if err != nil {
				return err
			}
			bar := newBar(int64(n), "applications", "applications")
			res, err := demo.Run(cmd.Context(), demo.Options{
				BaseURL: "http://" + cfg.HTTPAddr, Applications: n, Workers: workers, Seed: seed, Token: tok,
				OnApplication: func() { _ = bar.Add(1) },
			})
			_ = bar.Finish()
			var r *demo.Refusal
			if errors.As(err, &r) && r.Code == "duplicate_application" && seed != 0 {
				return fmt.Errorf("%[1]w\nлюди с --seed %[2]d уже подавали заявления в этот omsd: запустите demo с другим --seed или без него / the people of --seed %[2]d have applied in this omsd already: run demo with another --seed, or without one", err, seed)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%d applications in %s\n\n", len(res.Applications), res.Elapsed.Round(time.Millisecond))
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STATUS\tAPPLICATIONS\tFOR EXAMPLE")
			for _, s := range res.Statuses() {
				example := ""
				for _, a := range res.Applications {
					if a.Status == s {
						example = a.ApplicationID + " (" + a.Story + ")"
						break
					}
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\n", s, res.ByStatus[s], example)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(out, "\nTry: omsctl history <id>")
			return nil
		},
	}
	c.Flags().IntVarP(&n, "applications", "n", 3*demo.Stories(), "how many applications to create")
	c.Flags().IntVar(&workers, "workers", 4, "applications created concurrently")
	c.Flags().Uint64Var(&seed, "seed", 0, "seed of the made-up data (0: a new one each run)")
	return c
}
