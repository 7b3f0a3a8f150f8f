package app

import (
	"context"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/document"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/mongostore"
)

// registerCommands mounts the command API.
func registerCommands(r fiber.Router, a *App) error {
	docs, err := document.New(document.Options{Store: a.events, Blobs: a.store, Logger: a.log})
	if err != nil {
		return err
	}
	cmds, err := service.New(service.Options{
		Store: a.events, Documents: docs, Logger: a.log,
		Config: application.Config{PolicyTermMonths: a.cfg.PolicyTermMonths, AutoIssue: a.cfg.AutoIssue},
	})
	if err != nil {
		return err
	}
	return commandapi.Register(r, commandapi.Deps{Commands: cmds, Documents: docs, Logger: a.log})
}

func openMongo(ctx context.Context, cfg config.Config, log *slog.Logger) (readstore.Store, error) {
	return mongostore.Open(ctx, mongostore.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Logger: log})
}
