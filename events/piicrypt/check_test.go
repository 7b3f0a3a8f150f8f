package piicrypt_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// Check opens the vault's oldest and newest keys: all open under the
// master key they were wrapped with, none under another, and a vault with
// keys of two master keys (a node once started with the wrong one) is
// told apart from both.
func TestCheckTellsTheMasterKeyApart(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keyring := func(b byte) *piicrypt.Keyring {
		k, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: bytes.Repeat([]byte{b}, 32), Vault: store})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	right, wrong := keyring(1), keyring(2)
	if err := wrong.Check(ctx); err != nil {
		t.Fatalf("an empty vault: %v", err)
	}
	for _, subject := range []string{"alice", "bob"} {
		if _, err := right.SealBytes(ctx, subject, "scan", []byte("personal")); err != nil {
			t.Fatal(err)
		}
	}
	if err := right.Check(ctx); err != nil {
		t.Fatalf("the right master key: %v", err)
	}
	if err := wrong.Check(ctx); !errors.Is(err, piicrypt.ErrWrongMaster) || strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), "bob") {
		t.Fatalf("another master key: %v, want ErrWrongMaster naming no applicant", err)
	}
	// The wrong one served and wrapped a key of its own.
	if _, err := wrong.SealBytes(ctx, "carol", "scan", []byte("personal")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*piicrypt.Keyring{right, wrong} {
		if err := k.Check(ctx); !errors.Is(err, piicrypt.ErrMixedMasters) || strings.Contains(err.Error(), "carol") || strings.Contains(err.Error(), "alice") {
			t.Fatalf("a vault of two master keys: %v, want ErrMixedMasters", err)
		}
	}
}
