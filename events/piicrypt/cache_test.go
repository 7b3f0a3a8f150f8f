package piicrypt_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// loadCounter counts the keyring's reads of the vault.
type loadCounter struct {
	*sqlitestore.Store
	loads map[string]int
}

func (l *loadCounter) LoadKey(ctx context.Context, id string) ([]byte, bool, bool, error) {
	l.loads[id]++
	return l.Store.LoadKey(ctx, id)
}

// countedKeyring is a keyring of cacheSize keys (0: the default) whose
// vault, a fresh SQLite store, counts its key reads.
func countedKeyring(t *testing.T, cacheSize int) (*piicrypt.Keyring, *loadCounter) {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	vault := &loadCounter{Store: store, loads: map[string]int{}}
	k, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: bytes.Repeat([]byte{5}, 32), Vault: vault, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return k, vault
}

// The key cache holds CacheSize keys, the least recently used leaving
// first, and a key that left is read from the vault again.
func TestKeyCacheKeepsTheRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	k, vault := countedKeyring(t, 2)
	s := piicrypt.NewSealer(k, personal)
	seal := func(subject string) {
		t.Helper()
		if _, err := s.Seal(ctx, subject, "Person", []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	seal("a") // a created: one load that finds nothing
	seal("b")
	seal("a") // cached
	seal("c") // b, the least recently used, leaves
	seal("a") // still cached
	seal("b") // read again
	want := map[string]int{"a": 1, "b": 2, "c": 1}
	if fmt.Sprint(vault.loads) != fmt.Sprint(want) {
		t.Fatalf("vault reads %v, want %v", vault.loads, want)
	}
}

// Forget empties the cache: every key is read from the vault again, and a
// key erased before still reads as erased.
func TestForgetDropsEveryCachedKey(t *testing.T) {
	ctx := context.Background()
	k, vault := countedKeyring(t, 0)
	s := piicrypt.NewSealer(k, personal)
	sealed, err := s.Seal(ctx, "a", "Person", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(ctx, "b", "Person", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	if err := k.Erase(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	k.Forget()
	opened, err := s.Open(ctx, "Person", sealed)
	if err != nil || !bytes.Equal(opened, []byte(payload)) {
		t.Fatalf("open after Forget: %q, %v", opened, err)
	}
	if erased, err := k.Erased(ctx, "b"); err != nil || !erased {
		t.Fatalf("b after Forget: erased %v, %v", erased, err)
	}
	want := map[string]int{"a": 2, "b": 2}
	if fmt.Sprint(vault.loads) != fmt.Sprint(want) {
		t.Fatalf("vault reads %v, want %v", vault.loads, want)
	}
}

// Another node's erasure shows in ErasedNow at once, while Erased may
// answer from the cache until CacheTTL; ErasedNow then teaches the cache.
func TestErasedNowReadsTheVault(t *testing.T) {
	ctx := context.Background()
	here, vault := countedKeyring(t, 0)
	there, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: bytes.Repeat([]byte{5}, 32), Vault: vault.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := here.SealBytes(ctx, "a", "scan", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if erased, err := here.ErasedNow(ctx, "a"); err != nil || erased {
		t.Fatalf("before the erasure: ErasedNow %v, %v", erased, err)
	}
	if err := there.Erase(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if erased, err := here.Erased(ctx, "a"); err != nil || erased {
		t.Fatalf("the cached key should still answer within its TTL: Erased %v, %v", erased, err)
	}
	if erased, err := here.ErasedNow(ctx, "a"); err != nil || !erased {
		t.Fatalf("after another node's erasure: ErasedNow %v, %v", erased, err)
	}
	if erased, err := here.Erased(ctx, "a"); err != nil || !erased {
		t.Fatalf("after ErasedNow saw the erasure: Erased %v, %v", erased, err)
	}
	if _, err := here.ErasedNow(ctx, ""); err == nil {
		t.Fatal("an empty subject: no error")
	}
}
