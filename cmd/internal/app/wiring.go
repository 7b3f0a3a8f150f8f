package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/document"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/projections/history"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/mongostore"
)

// registerCommands mounts the command API and keeps the command service
// for the scheduler.
func registerCommands(r fiber.Router, a *App) error {
	docs, err := document.New(document.Options{Store: a.events, Blobs: a.store, Keys: a.keys, Logger: a.log,
		Attached: func(ctx context.Context, id string) (bool, error) { return history.Attached(ctx, a.store, id) }})
	if err != nil {
		return err
	}
	cmds, err := service.New(service.Options{
		Store: a.events, Documents: docs, Logger: a.log, Keys: a.keys, Blobs: a.store, PersonSecret: a.keys.Secret("person-key"),
		UploadScanTimeout: a.cfg.ErasureScanTimeout,
		Config: application.Config{PolicyTermMonths: a.cfg.PolicyTermMonths, AutoIssue: a.cfg.AutoIssue, RetentionYears: a.cfg.RetentionYears,
			AnswerTermDays: a.cfg.AnswerTermDays},
	})
	if err != nil {
		return err
	}
	a.commands = cmds
	return commandapi.Register(r, commandapi.Deps{Commands: cmds, Documents: docs, Logger: a.log, Visits: a.visits})
}

// openKeyring loads the master key and opens the keyring over the read
// store's key vault.
func openKeyring(ctx context.Context, cfg config.Config, vault piicrypt.Vault, log *slog.Logger) (*piicrypt.Keyring, error) {
	devFile := filepath.Join(cfg.DevKeyDir, "dev-master.key")
	master, created, err := piicrypt.MasterKey(cfg.MasterKey, cfg.MasterKeyFile, devFile)
	if err != nil {
		return nil, fmt.Errorf("мастер-ключ не прочитан: нужны 32 байта в base64 в OMS_MASTER_KEY или в файле OMS_MASTER_KEY_FILE; "+
			"the master key could not be read: give 32 bytes in base64 in OMS_MASTER_KEY or in the file OMS_MASTER_KEY_FILE (%w)", err)
	}
	if cfg.MasterKey == "" && cfg.MasterKeyFile == "" {
		log.Warn("DEV MASTER KEY: applicants' personal data are encrypted under a key kept next to the data; set OMS_MASTER_KEY_FILE in production",
			"file", devFile, "created", created)
	}
	keys, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: master, Vault: vault})
	if err != nil {
		return nil, err
	}
	if err := keys.Check(ctx); err != nil {
		if errors.Is(err, piicrypt.ErrMixedMasters) {
			return nil, fmt.Errorf("в хранилище ключей данных есть ключи под двумя разными мастер-ключами: узел однажды запускали с другим OMS_MASTER_KEY; восстановите хранилище (vault) из копии до того запуска; "+
				"the vault holds data keys wrapped under two different master keys, left by a node once started with another OMS_MASTER_KEY: restore the vault from a backup taken before that start (%w)", err)
		}
		if errors.Is(err, piicrypt.ErrWrongMaster) {
			return nil, fmt.Errorf("мастер-ключ не открывает ключи данных, уже лежащие в хранилище: задайте OMS_MASTER_KEY или OMS_MASTER_KEY_FILE, которым они записаны; "+
				"the master key does not open the data keys already in the vault: set the OMS_MASTER_KEY or OMS_MASTER_KEY_FILE they were written with (%w)", err)
		}
		return nil, err
	}
	return keys, nil
}

func openMongo(ctx context.Context, cfg config.Config, log *slog.Logger) (readstore.Store, error) {
	s, err := mongostore.Open(ctx, mongostore.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Logger: log})
	if err != nil {
		// Not s: a nil *Store in the interface is not a nil interface,
		// and closing it on the way out panicked over the real error.
		return nil, err
	}
	return s, nil
}

// nodeID is this node's stable identity, kept in the data dir: a node that
// restarts after a crash is the same lease holder and takes its projections
// back at once instead of waiting for its own lease to expire. The data
// dir's lock (lockDataDir) keeps two processes off one data dir.
func nodeID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s-%s", host, uuid.NewString()[:8])
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("app: data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("app: write node id: %w", err)
	}
	return id, nil
}
