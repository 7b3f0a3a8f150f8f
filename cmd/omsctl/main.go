// Command omsctl is the operator's tool for omsd: dev tokens, projection
// operations, an application's audit timeline, demo data, a load generator
// and the performance table. It reads the same OMS_* environment and flags
// as omsd.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
)

func main() {
	if err := root().Execute(); err != nil {
		os.Exit(1)
	}
}

// usedByOmsctl are the omsd settings omsctl itself reads.
var usedByOmsctl = map[string]bool{"http-addr": true, "data-dir": true, "dev-key-dir": true, "oidc-issuer": true}

func root() *cobra.Command {
	cfg := config.Defaults()
	cmd := &cobra.Command{
		Use:           "omsctl",
		Short:         "Operate «ОМС онлайн» (omsd)",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	fs := flag.NewFlagSet("omsctl", flag.ContinueOnError)
	if err := cfg.Register(fs); err != nil {
		fmt.Fprintln(os.Stderr, "omsctl:", err)
		os.Exit(2)
	}
	cmd.PersistentFlags().AddGoFlagSet(fs)
	// omsctl takes every omsd setting, so that one environment serves
	// both, but uses only where omsd is and how it signs in; the others
	// (SMTP, rate limits, the SLA…) still parse and validate, without
	// filling every --help with thirty flags that change nothing here.
	fs.VisitAll(func(f *flag.Flag) {
		if !usedByOmsctl[f.Name] {
			_ = cmd.PersistentFlags().MarkHidden(f.Name)
		}
	})
	cmd.AddCommand(tokenCmd(&cfg), projectionsCmd(&cfg), historyCmd(&cfg), eraseCmd(&cfg), erasuresCmd(&cfg), demoCmd(&cfg), loadCmd(&cfg), benchCmd())
	cmd.SetFlagErrorFunc(flagError)
	cmd.Args = unknownCommand
	// Runnable, so that cobra checks the arguments (an unknown command)
	// with unknownCommand; alone, omsctl shows its help.
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	checkBuiltins(cmd)
	for _, c := range cmd.Commands() {
		if c.Args == nil {
			c.Args = noArgs
		}
	}
	return cmd
}

// maxTokenTTL bounds a dev token's life: a leaked one stops working within
// a week, and no test or demo needs longer.
const maxTokenTTL = 7 * 24 * time.Hour

func tokenCmd(cfg *config.Config) *cobra.Command {
	var role, subject string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "token",
		Short: "Print a dev-mode bearer token that omsd (same data dir, no OMS_OIDC_ISSUER) accepts",
		Example: `  omsctl token --role applicant --subject alice
  curl -H "Authorization: Bearer $(omsctl token --role reviewer --subject rev-1)" localhost:8080/api/v1/reviewer/queue`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			if subject == "" {
				return fmt.Errorf("укажите --subject, id того, кому выдаётся токен / give --subject, the id of whom the token is for")
			}
			if !slices.Contains(authn.Roles, role) {
				return fmt.Errorf("--role %[1]q: нет такой роли; есть %[2]s / --role %[1]q: no such role; there are %[2]s", role, strings.Join(authn.Roles, ", "))
			}
			if ttl < time.Second || ttl > maxTokenTTL {
				return fmt.Errorf("--ttl должен быть от 1 с до %v / --ttl must be between 1s and %[1]v", maxTokenTTL)
			}
			if cfg.OIDCIssuer != "" {
				// omsd refuses dev tokens when an issuer is configured;
				// printing one would only send the operator chasing a 401.
				return fmt.Errorf("omsctl token выдаёт токены режима разработки, а здесь вход через OIDC-провайдера %[1]s (OMS_OIDC_ISSUER): получите токен у него / "+
					"omsctl token makes dev-mode tokens, and this deployment authenticates through the OIDC issuer %[1]s (OMS_OIDC_ISSUER): get a token from the issuer instead", cfg.OIDCIssuer)
			}
			key, err := devKey(cfg)
			if err != nil {
				return err
			}
			tok, err := authn.IssueDev(key, subject, role, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	c.Flags().StringVar(&role, "role", "applicant", "applicant, reviewer, auditor, operator or admin")
	c.Flags().StringVar(&subject, "subject", "", "the caller's id (required)")
	c.Flags().DurationVar(&ttl, "ttl", 12*time.Hour, "how long the token is valid, at most 7 days")
	return c
}
