package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/omsonline/oms/projections/readstore"
)

// testKeyVault checks the key vault: first creator wins, erasure leaves a
// tombstone that stays erased, and unknown ids are told apart from erased
// ones.
func testKeyVault(t *testing.T, s readstore.Store) {
	ctx := context.Background()
	// edges checks the oldest and the newest key not erased.
	edges := func(oldest, newest string) {
		t.Helper()
		for _, e := range []struct {
			newest bool
			want   string
		}{{false, oldest}, {true, newest}} {
			id, wrapped, found, err := s.EdgeKey(ctx, e.newest)
			if err != nil || found != (e.want != "") || id != e.want || (found && len(wrapped) == 0) {
				t.Fatalf("EdgeKey(newest %t) = %q %q found %v err %v, want %q", e.newest, id, wrapped, found, err, e.want)
			}
		}
	}
	edges("", "")
	_, erased, found, err := s.LoadKey(ctx, "subject-1")
	if err != nil || found || erased {
		t.Fatalf("LoadKey(unknown) = found %v erased %v err %v, want not found", found, erased, err)
	}
	first := []byte("wrapped-key-one")
	stored, erased, err := s.CreateKey(ctx, "subject-1", first)
	if err != nil || erased || !bytes.Equal(stored, first) {
		t.Fatalf("CreateKey = %q erased %v err %v, want %q", stored, erased, err, first)
	}
	stored, _, err = s.CreateKey(ctx, "subject-1", []byte("another key"))
	if err != nil || !bytes.Equal(stored, first) {
		t.Fatalf("second CreateKey = %q, %v; want the first key %q kept", stored, err, first)
	}
	got, erased, found, err := s.LoadKey(ctx, "subject-1")
	if err != nil || !found || erased || !bytes.Equal(got, first) {
		t.Fatalf("LoadKey = %q found %v erased %v err %v", got, found, erased, err)
	}
	edges("subject-1", "subject-1")
	if _, _, err := s.CreateKey(ctx, "", first); err == nil {
		t.Fatal("CreateKey with an empty id succeeded")
	}

	// Racing creators agree on one key.
	var wg sync.WaitGroup
	results := make([][]byte, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := s.CreateKey(ctx, "subject-race", []byte{byte('a' + i), 1, 2, 3})
			if err != nil {
				t.Errorf("CreateKey #%d: %v", i, err)
			}
			results[i] = k
		}()
	}
	wg.Wait()
	for i := range results {
		if !bytes.Equal(results[i], results[0]) || len(results[0]) != 4 {
			t.Fatalf("racing creators got different keys: %q", results)
		}
	}

	edges("subject-1", "subject-race")
	if err := s.EraseKey(ctx, "subject-1"); err != nil {
		t.Fatal(err)
	}
	got, erased, found, err = s.LoadKey(ctx, "subject-1")
	if err != nil || !found || !erased || got != nil {
		t.Fatalf("after EraseKey: LoadKey = %q found %v erased %v err %v, want an erased tombstone", got, found, erased, err)
	}
	if err := s.EraseKey(ctx, "subject-1"); err != nil {
		t.Fatalf("erasing twice: %v", err)
	}
	stored, erased, err = s.CreateKey(ctx, "subject-1", []byte("resurrected"))
	if err != nil || !erased || stored != nil {
		t.Fatalf("CreateKey after erasure = %q erased %v err %v, want it to stay erased", stored, erased, err)
	}
	// Erasing an id that never had a key still leaves a tombstone.
	if err := s.EraseKey(ctx, "subject-never"); err != nil {
		t.Fatal(err)
	}
	if _, erased, found, err := s.LoadKey(ctx, "subject-never"); err != nil || !found || !erased {
		t.Fatalf("tombstone of a never-created key: found %v erased %v err %v", found, erased, err)
	}
	edges("subject-race", "subject-race") // erased ones are passed over
	if err := s.EraseKey(ctx, "subject-race"); err != nil {
		t.Fatal(err)
	}
	edges("", "")
	if err := s.Scrub(ctx); err != nil {
		t.Fatalf("Scrub: %v", err)
	}
}
