package piicrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

var personal = piicrypt.Personal{
	Sections: func(t string) []string {
		if t == "Person" {
			return []string{"name", "address", "answers"}
		}
		return nil
	},
	Clear: map[string]bool{"region": true, "questionId": true},
}

func newSealer(t testing.TB, master []byte) (*piicrypt.Sealer, *sqlitestore.Store) {
	s, _, store := newSealerKeys(t, master)
	return s, store
}

func newSealerKeys(t testing.TB, master []byte) (*piicrypt.Sealer, *piicrypt.Keyring, *sqlitestore.Store) {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	k, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: master, Vault: store})
	if err != nil {
		t.Fatal(err)
	}
	return piicrypt.NewSealer(k, personal), k, store
}

const payload = `{"id":"p1","count":12345678901234567,"name":"Иванов Иван","empty":"","address":{"region":"77","city":"Москва","flat":""},"answers":[{"questionId":"1.1","text":"да"}],"ok":true}`

func TestSealOpenErase(t *testing.T) {
	ctx := context.Background()
	s, keys, _ := newSealerKeys(t, bytes.Repeat([]byte{7}, 32))
	sealed, err := s.Seal(ctx, "subj-1", "Person", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"Иванов", "Москва", `"да"`} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("sealed payload holds %q: %s", secret, sealed)
		}
	}
	// Clear keys and the structure stay readable without the key.
	var outer map[string]any
	if err := json.Unmarshal(sealed, &outer); err != nil {
		t.Fatal(err)
	}
	if outer["address"].(map[string]any)["region"] != "77" || outer["answers"].([]any)[0].(map[string]any)["questionId"] != "1.1" || outer["name"] != "" {
		t.Fatalf("outer %v", outer)
	}
	opened, err := s.Open(ctx, "Person", sealed)
	if err != nil || string(opened) != payload {
		t.Fatalf("open = %s, %v; want the original", opened, err)
	}
	if !bytes.Contains(sealed, []byte(`"kid":"subj-1"`)) {
		t.Fatalf("the sealed part does not name its key: %s", sealed)
	}
	// Another event type's AAD does not open it (no cut-and-paste between
	// events).
	if _, err := s.Open(ctx, "Other", sealed); err == nil {
		t.Fatal("opened under another event type")
	}
	// A flipped byte of the ciphertext is caught.
	tampered := bytes.Replace(sealed, []byte(`"ct":"`), []byte(`"ct":"A`), 1)
	if _, err := s.Open(ctx, "Person", tampered); err == nil {
		t.Fatal("tampered ciphertext opened")
	}

	if err := keys.Erase(ctx, "subj-1"); err != nil {
		t.Fatal(err)
	}
	erased, err := s.Open(ctx, "Person", sealed)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	d := json.NewDecoder(bytes.NewReader(erased))
	d.UseNumber()
	if err := d.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["name"] != piicrypt.Marker || got["empty"] != "" || got["address"].(map[string]any)["city"] != piicrypt.Marker ||
		got["address"].(map[string]any)["flat"] != "" || got["address"].(map[string]any)["region"] != "77" ||
		got["answers"].([]any)[0].(map[string]any)["text"] != piicrypt.Marker || got["count"].(json.Number) != "12345678901234567" {
		t.Fatalf("erased payload %s", erased)
	}
	if _, has := got["$pii"]; has {
		t.Fatal("the sealed part survived in the erased payload")
	}
	// Nothing new is sealed for an erased subject.
	if _, err := s.Seal(ctx, "subj-1", "Person", []byte(payload)); !errors.Is(err, piicrypt.ErrErased) {
		t.Fatalf("seal after erasure: %v", err)
	}
}

func TestSealRules(t *testing.T) {
	ctx := context.Background()
	s, _ := newSealer(t, bytes.Repeat([]byte{1}, 32))
	// Nothing personal: unchanged, no subject needed.
	for _, p := range []string{`{"id":"x"}`, `{"name":"","address":{"region":"50"}}`} {
		out, err := s.Seal(ctx, "", "Person", []byte(p))
		if err != nil || string(out) != p {
			t.Fatalf("Seal(%s) = %s, %v", p, out, err)
		}
	}
	if out, err := s.Seal(ctx, "", "NotPersonal", []byte(payload)); err != nil || string(out) != payload {
		t.Fatalf("type without personal sections: %s %v", out, err)
	}
	// Personal data without a subject is refused, not written in the clear.
	if _, err := s.Seal(ctx, "", "Person", []byte(payload)); err == nil {
		t.Fatal("sealed personal data without a subject")
	}
	// Unsealed payloads open as they are.
	if out, err := s.Open(ctx, "Person", []byte(`{"name":"x"}`)); err != nil || string(out) != `{"name":"x"}` {
		t.Fatalf("plain open: %s %v", out, err)
	}
	// A value merely containing the marker text is not taken for a seal.
	v := `{"name":"\"$pii\""}`
	if out, err := s.Open(ctx, "Person", []byte(v)); err != nil || string(out) != v {
		t.Fatalf("open of a look-alike: %s %v", out, err)
	}
}

func TestWrongMasterKeyAndMissingKey(t *testing.T) {
	ctx := context.Background()
	s, store := newSealer(t, bytes.Repeat([]byte{2}, 32))
	sealed, err := s.Seal(ctx, "subj-2", "Person", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	other, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: bytes.Repeat([]byte{3}, 32), Vault: store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := piicrypt.NewSealer(other, personal).Open(ctx, "Person", sealed); err == nil || !strings.Contains(err.Error(), "OMS_MASTER_KEY") {
		t.Fatalf("wrong master key: %v", err)
	}
	// A store that never had the key is an error, not an erasure.
	s2, _ := newSealer(t, bytes.Repeat([]byte{2}, 32))
	if _, err := s2.Open(ctx, "Person", sealed); !errors.Is(err, piicrypt.ErrNoKey) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: []byte("short"), Vault: store}); err == nil {
		t.Fatal("a short master key was accepted")
	}
}

// TestOtherNodesForgetWithinTheTTL: a node that cached a key stops opening
// with it once the cache entry is older than the TTL, after another node
// erased it.
func TestOtherNodesForgetWithinTheTTL(t *testing.T) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, sqlitestore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	master := bytes.Repeat([]byte{4}, 32)
	nodeA, _ := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: master, Vault: store, Now: func() time.Time { return now }})
	nodeB, _ := piicrypt.NewKeyring(piicrypt.KeyringOptions{Master: master, Vault: store})
	a := piicrypt.NewSealer(nodeA, personal)
	sealed, err := a.Seal(ctx, "subj-3", "Person", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if err := nodeB.Erase(ctx, "subj-3"); err != nil {
		t.Fatal(err)
	}
	if out, _ := a.Open(ctx, "Person", sealed); string(out) != payload {
		t.Fatal("within the TTL node A was expected to still hold its cached key")
	}
	now = now.Add(piicrypt.DefaultCacheTTL + time.Second)
	out, err := a.Open(ctx, "Person", sealed)
	if err != nil || !bytes.Contains(out, []byte(piicrypt.Marker)) {
		t.Fatalf("after the TTL: %s %v", out, err)
	}
}

func TestMasterKeySources(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "keys", "dev.key")
	k1, created, err := piicrypt.MasterKey("", "", dev)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("dev key: %v %v %d", err, created, len(k1))
	}
	if fi, err := os.Stat(dev); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev key file mode: %v %v", fi.Mode(), err)
	}
	k2, created, err := piicrypt.MasterKey("", "", dev)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second start got another dev key: %v %v", err, created)
	}
	v := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	if k, _, err := piicrypt.MasterKey(v, "", dev); err != nil || k[0] != 9 {
		t.Fatalf("from value: %v", err)
	}
	f := filepath.Join(dir, "master")
	os.WriteFile(f, []byte(v+"\n"), 0o600)
	if k, _, err := piicrypt.MasterKey("", f, dev); err != nil || k[0] != 9 {
		t.Fatalf("from file: %v", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("16 bytes only..."))} {
		if _, _, err := piicrypt.MasterKey(bad, "", dev); err == nil {
			t.Fatalf("bad master key %q accepted", bad)
		}
	}
}
