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
				return fmt.Errorf("--basis: одно из %[1]s / --basis must be one of %[1]s", strings.Join(schema.EraseBases, ", "))
			}
			if !yes {
				return fmt.Errorf("удаление данных %[1]s необратимо: повторите команду с --yes, чтобы подтвердить / the erasure of %[1]s cannot be undone: run it again with --yes to confirm", args[0])
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

func erasuresCmd(cfg *config.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "erasures",
		Short: "List the applicants whose personal data must be erased, and by when (a withdrawn consent: 30 days)",
		Long: `erasures asks a running omsd, as an administrator, which applications had
their consent withdrawn and whose applicant's data are not erased yet: the
law wants them erased within 30 days, or, when an issued policy's record
had to be kept, 30 days after that record's term. Each line gives what
omsctl erase needs: the applicant's id and the basis.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := newAPIClient(cfg, "admin")
			if err != nil {
				return err
			}
			var due []admin.DueErasure
			if err := api.do("GET", "/api/v1/admin/erasures", nil, &due); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(due) == 0 {
				fmt.Fprintln(w, "no erasure is due / удалять сейчас нечего")
				return nil
			}
			fmt.Fprintf(w, "%-10s  %-8s  %-17s  %-36s  %s\n", "ERASE BY", "OVERDUE", "BASIS", "APPLICATION", "APPLICANT")
			for _, d := range due {
				late := ""
				if d.Overdue {
					late = "yes"
				}
				fmt.Fprintf(w, "%-10s  %-8s  %-17s  %-36s  %s\n", d.EraseBy, late, d.Basis, d.ApplicationID, d.ApplicantID)
			}
			return nil
		},
	}
}
