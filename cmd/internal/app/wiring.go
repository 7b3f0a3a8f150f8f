package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/projections/readstore"
)

// registerCommands mounts the command API.
func registerCommands(r fiber.Router, a *App) {}

func openMongo(ctx context.Context, cfg config.Config, log *slog.Logger) (readstore.Store, error) {
	return nil, errors.New("mongo: not wired yet")
}
