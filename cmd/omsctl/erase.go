package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/admin"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events/schema"
)

func eraseCmd(cfg *config.Config) *cobra.Command {
	var basis string
	var yes bool
	c := &cobra.Command{
		Use:   "erase APPLICANT_ID --basis BASIS --yes",
		Short: "Erase an applicant's personal data (Federal Law 152-FZ, art. 21): destroy their key and scans, record the erasure",
		Long: `erase asks a running omsd, as an administrator, to erase every application of
the applicant: their data key is destroyed, their scans deleted, and each
application records the erasure and its basis. omsd refuses while an
application is being processed or an issued policy's record must still be
kept, and says until when.

The erasure cannot be undone, so the basis is never assumed and --yes
confirms it.`,
		Example: `  omsctl erase 7f3c… --basis subject_request --yes
  omsctl erase 7f3c… --basis retention_ended --yes`,
		Args: oneArg("id заявителя", "the applicant's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(schema.EraseBases, basis) {
				return fmt.Errorf("--basis must be one of %s", strings.Join(schema.EraseBases, ", "))
			}
			if !yes {
				return fmt.Errorf("the erasure of %s cannot be undone: run it again with --yes to confirm", args[0])
			}
			api, err := newAPIClient(cfg, "admin")
			if err != nil {
				return err
			}
			// omsd may read the whole event store for the applicant's
			// uploads and then wait for the read models: a client
			// giving up sooner would see an error for an erasure done.
			api.http.Timeout = cfg.ErasureScanTimeout + 2*admin.ErasureWait + time.Minute
			var out admin.ErasureResponse
			if err := api.do("POST", "/api/v1/admin/applicants/"+url.PathEscape(args[0])+"/erase", map[string]string{"basis": basis}, &out); err != nil {
				return err
			}
			what := fmt.Sprintf("erasure recorded in %d application(s), %d scan(s) deleted", out.RecordedNow, out.ScansDeleted)
			if before := len(out.Applications) - out.RecordedNow; before > 0 {
				what += fmt.Sprintf("; %d application(s) erased before", before)
			}
			if out.RecordedNow == 0 && out.ScansDeleted == 0 {
				what = "no erasure recorded anew and no scan deleted"
				if len(out.Applications) > 0 {
					what += fmt.Sprintf(" (%d application(s) erased before)", len(out.Applications))
				} else {
					what += " (nothing but the data key was left)"
				}
			}
			if out.KeyDestroyed {
				what += "; their data key is destroyed"
			}
			updated := "the read models show it"
			if !out.ReadModelsErased {
				updated = "the read models have not caught up yet"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applicant %s: %s; %s\n", out.ApplicantID, what, updated)
			for _, a := range out.Applications {
				fmt.Fprintf(cmd.OutOrStdout(), "  %s revision %d position %d\n", a.ApplicationID, a.Revision, a.Position)
			}
			return nil
		},
	}
	c.Flags().StringVar(&basis, "basis", "", "why, required: "+strings.Join(schema.EraseBases, ", "))
	c.Flags().BoolVar(&yes, "yes", false, "confirm the erasure, which cannot be undone")
	return c
}
