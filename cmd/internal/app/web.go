package app

import (
	"github.com/omsonline/oms/cmd/internal/authn"
	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/projections/runner"
)

// webProjections are the read models the people's pages need beyond the
// cabinet, queue and history.
func webProjections(cfg config.Config) []runner.Projection { return nil }

// registerWeb mounts the pages, the sign-in flow and the policy PDF.
func registerWeb(a *App, v *authn.Verifier) error { return nil }
