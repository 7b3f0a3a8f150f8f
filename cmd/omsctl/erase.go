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
	c := &cobra.Command{
		Use:   "erase APPLICANT_ID",
		Short: "Erase an applicant's personal data (152-ФЗ art. 21): destroy their key and scans, record the erasure",
		Long: "Asks a running omsd, as an administrator, to erase every application of the applicant. " +
			"omsd refuses while an application is being processed or an issued policy's record must still be kept, " +
			"and says until when. The erasure cannot be undone.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(schema.EraseBases, basis) {
				return fmt.Errorf("--basis must be one of %s", strings.Join(schema.EraseBases, ", "))
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
			fmt.Fprintf(cmd.OutOrStdout(), "applicant %s erased: %d applications recorded, %d scans deleted, read models updated: %v\n",
				out.ApplicantID, len(out.Applications), out.ScansDeleted, out.ReadModelsErased)
			for _, a := range out.Applications {
				fmt.Fprintf(cmd.OutOrStdout(), "  %s revision %d position %d\n", a.ApplicationID, a.Revision, a.Position)
			}
			return nil
		},
	}
	c.Flags().StringVar(&basis, "basis", schema.EraseOnRequest, "why: "+strings.Join(schema.EraseBases, ", "))
	return c
}
