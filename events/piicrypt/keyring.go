// Package piicrypt makes applicants' personal data in events erasable
// without rewriting the event store ("crypto-shredding", 152-ФЗ art. 21).
//
// Each data subject (an applicant) has a random AES-256 data key. Personal
// fields of an event are sealed with it (AES-GCM) before the event is
// appended; the data key itself is stored only wrapped by the master key, in
// the read-model store's key vault, never in the event store. Erasing a
// person destroys the wrapped key: the events stay append-only and intact,
// but their personal fields can no longer be opened by anyone, and readers
// see Marker in their place.
package piicrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Marker replaces personal data whose key was erased, in Russian and
// English because people read it in both.
const Marker = "данные удалены / erased"

// Errors of the keyring.
var (
	// ErrErased is a subject whose key was destroyed.
	ErrErased = errors.New("piicrypt: the data subject's personal data was erased")
	// ErrMixedMasters is a vault holding keys wrapped under two master
	// keys: a node once ran on it with another master key than the rest.
	ErrMixedMasters = errors.New("piicrypt: the vault holds data keys wrapped under two different master keys")
	// ErrWrongMaster is a data key the master key does not open: the
	// master key is not the one the vault's keys were wrapped with.
	ErrWrongMaster = errors.New("piicrypt: the master key does not open the data keys in the vault (is OMS_MASTER_KEY or OMS_MASTER_KEY_FILE the one they were written with?)")
	// ErrNoKey is a sealed value whose key the vault never had: a
	// misconfigured deployment (wrong read-model store), not an erasure.
	ErrNoKey = errors.New("piicrypt: the key vault has no key for this data subject")
)

// Vault stores wrapped data keys. The read-model store implements it (see
// readstore.Store).
type Vault interface {
	LoadKey(ctx context.Context, id string) (wrapped []byte, erased, found bool, err error)
	CreateKey(ctx context.Context, id string, wrapped []byte) (stored []byte, erased bool, err error)
	EraseKey(ctx context.Context, id string) error
}

// KeyringOptions configure a Keyring.
type KeyringOptions struct {
	// Master is the 32-byte master key that wraps every data key.
	Master []byte
	Vault  Vault
	// CacheTTL bounds how long an unwrapped key is kept in memory. Another
	// node's erasure takes effect here within it; this node's at once.
	// Zero means DefaultCacheTTL.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached keys, least recently used out
	// first; zero means DefaultCacheSize.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultCacheTTL is how long unwrapped data keys stay cached.
const DefaultCacheTTL = 30 * time.Second

// DefaultCacheSize bounds the cached keys. A key is used in bursts (an
// application's events, an applicant's requests), and a cached one costs
// about 700 bytes: 100,000 of them were some 70 MB of omsd's heap after
// it followed 1M events.
const DefaultCacheSize = 20_000

// Keyring hands out data keys: it unwraps them from the vault, creates them
// on first use and destroys them on erasure.
type Keyring struct {
	o      KeyringOptions
	master cipher.AEAD

	mu    sync.Mutex
	cache *simplelru.LRU[string, cached]
}

type cached struct {
	aead   cipher.AEAD // nil when erased
	loaded time.Time
}

// NewKeyring checks the master key and returns a Keyring.
func NewKeyring(o KeyringOptions) (*Keyring, error) {
	if len(o.Master) != 32 {
		return nil, fmt.Errorf("piicrypt: the master key must be 32 bytes, got %d", len(o.Master))
	}
	if o.Vault == nil {
		return nil, errors.New("piicrypt: a key vault is required")
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m, err := newGCM(o.Master)
	if err != nil {
		return nil, err
	}
	cache, err := simplelru.NewLRU[string, cached](o.CacheSize, nil)
	if err != nil {
		return nil, fmt.Errorf("piicrypt: key cache: %w", err)
	}
	return &Keyring{o: o, master: m, cache: cache}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("piicrypt: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("piicrypt: %w", err)
	}
	return g, nil
}

// wrapAAD binds a wrapped key to its subject, so that a vault row copied
// to another subject does not open.
func wrapAAD(id string) []byte { return []byte("oms-data-key:" + id) }

// key returns the subject's data key, creating it when create is set.
func (k *Keyring) key(ctx context.Context, id string, create bool) (cipher.AEAD, error) {
	if id == "" {
		return nil, errors.New("piicrypt: empty data subject")
	}
	now := k.o.Now()
	k.mu.Lock()
	c, ok := k.cache.Get(id)
	k.mu.Unlock()
	if ok && (c.aead == nil || now.Sub(c.loaded) < k.o.CacheTTL) {
		// An erasure is final, so an erased entry never expires.
		if c.aead == nil {
			return nil, ErrErased
		}
		return c.aead, nil
	}
	wrapped, erased, found, err := k.o.Vault.LoadKey(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("piicrypt: load key: %w", err)
	}
	if !found && create {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, fmt.Errorf("piicrypt: new key: %w", err)
		}
		nonce := make([]byte, k.master.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("piicrypt: new key: %w", err)
		}
		w := k.master.Seal(nonce, nonce, fresh, wrapAAD(id))
		if wrapped, erased, err = k.o.Vault.CreateKey(ctx, id, w); err != nil {
			return nil, fmt.Errorf("piicrypt: store key: %w", err)
		}
		found = true
	}
	switch {
	case erased:
		k.remember(id, cached{loaded: now})
		return nil, ErrErased
	case !found:
		return nil, fmt.Errorf("%w %q", ErrNoKey, id)
	}
	raw, err := k.unwrap(id, wrapped)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(raw)
	clear(raw) // the cipher keeps its own expanded copy
	if err != nil {
		return nil, err
	}
	k.remember(id, cached{aead: aead, loaded: now})
	return aead, nil
}

func (k *Keyring) unwrap(id string, wrapped []byte) ([]byte, error) {
	ns := k.master.NonceSize()
	if len(wrapped) < ns {
		return nil, fmt.Errorf("piicrypt: the wrapped key of %q is truncated", id)
	}
	raw, err := k.master.Open(nil, wrapped[:ns], wrapped[ns:], wrapAAD(id))
	if err != nil {
		return nil, fmt.Errorf("%w: unwrap the key of %q: %w", ErrWrongMaster, id, err)
	}
	return raw, nil
}

// EdgeKeyer is a Vault that can name the keys it created first and last
// (the read-model stores can), for Check.
type EdgeKeyer interface {
	EdgeKey(ctx context.Context, newest bool) (id string, wrapped []byte, found bool, err error)
}

// Check opens the vault's oldest and newest keys with the master key, so
// that a node started with another master key refuses to start instead
// of serving: it could read no one's data, and would wrap new applicants'
// keys under the wrong master key, leaving the vault unreadable under
// either. A vault whose oldest and newest keys need different master
// keys (left by such a start) is ErrMixedMasters. A vault without keys,
// or one that cannot name them, passes.
func (k *Keyring) Check(ctx context.Context) error {
	v, ok := k.o.Vault.(EdgeKeyer)
	if !ok {
		return nil
	}
	// The messages name no key: a key's id is an applicant's, and these
	// go to the start-up error and the logs.
	var opened, failed []string
	for _, newest := range []bool{false, true} {
		which := map[bool]string{false: "oldest", true: "newest"}[newest]
		id, wrapped, found, err := v.EdgeKey(ctx, newest)
		if err != nil {
			return fmt.Errorf("piicrypt: check the master key: %w", err)
		}
		if !found {
			return nil
		}
		raw, err := k.unwrap(id, wrapped)
		if err != nil {
			failed = append(failed, which)
			continue
		}
		clear(raw)
		opened = append(opened, which)
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(opened) == 0:
		return ErrWrongMaster
	default:
		return fmt.Errorf("%w: the vault's %s key opens and its %s key does not", ErrMixedMasters, opened[0], failed[0])
	}
}

func (k *Keyring) remember(id string, c cached) {
	// A copy: a caller's id may be a view of a buffer that is reused
	// (Fiber's header strings were), and a key that changes under the
	// cache hands one person's data key to another.
	id = strings.Clone(id)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cache.Add(id, c)
}

// Forget drops every cached key, erased markers too: the vault has them
// all. omsd calls it when a burst of work is over, so that their memory
// (20,000 cached keys were some 20 MB of heap) goes back to the OS with
// the rest of the burst's. It also ends their reachability, though not
// their bytes: Go does not wipe freed memory, and the AES key schedules
// inside the ciphers cannot be cleared from outside.
func (k *Keyring) Forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cache.Purge()
}

// Secret derives a 32-byte secret for one purpose from the master key
// (HMAC-SHA256 of the label), for keyed hashes that must stay stable
// across nodes and restarts yet mean nothing without the master key.
func (k *Keyring) Secret(label string) []byte {
	m := hmac.New(sha256.New, k.o.Master)
	m.Write([]byte("oms-secret:" + label))
	return m.Sum(nil)
}

// Erase destroys the subject's data key. Everything sealed with it becomes
// unreadable for good.
func (k *Keyring) Erase(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("piicrypt: empty data subject")
	}
	if err := k.o.Vault.EraseKey(ctx, id); err != nil {
		return fmt.Errorf("piicrypt: erase key: %w", err)
	}
	k.remember(id, cached{loaded: k.o.Now()})
	return nil
}

// Erased reports whether the subject's key was destroyed.
func (k *Keyring) Erased(ctx context.Context, id string) (bool, error) {
	_, err := k.key(ctx, id, false)
	switch {
	case errors.Is(err, ErrErased):
		return true, nil
	case err == nil, errors.Is(err, ErrNoKey):
		return false, nil
	}
	return false, err
}

// ErasedNow is Erased read from the vault rather than the cache, so that
// another node's erasure counts at once instead of after CacheTTL: for a
// write that must not outlive an erasure racing it (an upload checks it
// once its scan is stored and recorded).
func (k *Keyring) ErasedNow(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, errors.New("piicrypt: empty data subject")
	}
	_, erased, _, err := k.o.Vault.LoadKey(ctx, id)
	if err != nil {
		return false, fmt.Errorf("piicrypt: load key: %w", err)
	}
	if erased {
		k.remember(id, cached{loaded: k.o.Now()})
	}
	return erased, nil
}

// Known reports whether the subject ever had a key: something of theirs
// was sealed (an application, a scan), whether or not the key has since
// been erased.
func (k *Keyring) Known(ctx context.Context, id string) (bool, error) {
	_, err := k.key(ctx, id, false)
	switch {
	case err == nil, errors.Is(err, ErrErased):
		return true, nil
	case errors.Is(err, ErrNoKey):
		return false, nil
	}
	return false, err
}

// SealBytes encrypts b with the subject's key (creating it), binding the
// ciphertext to context (for example "scan"). Scans use it.
func (k *Keyring) SealBytes(ctx context.Context, subject, context string, b []byte) ([]byte, error) {
	aead, err := k.key(ctx, subject, true)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(b)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("piicrypt: nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, b, bytesAAD(subject, context)), nil
}

// OpenBytes decrypts what SealBytes produced; ErrErased after an erasure.
func (k *Keyring) OpenBytes(ctx context.Context, subject, context string, b []byte) ([]byte, error) {
	aead, err := k.key(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(b) < ns+aead.Overhead() {
		return nil, errors.New("piicrypt: sealed bytes are truncated")
	}
	out, err := aead.Open(nil, b[:ns], b[ns:], bytesAAD(subject, context))
	if err != nil {
		return nil, fmt.Errorf("piicrypt: open sealed bytes: %w", err)
	}
	return out, nil
}

func bytesAAD(subject, context string) []byte { return []byte("oms-bytes:" + context + ":" + subject) }

// MasterKey reads the master key: from value (base64 of 32 bytes, the
// OMS_MASTER_KEY setting) if set, else from file (its content in base64).
// With neither, it creates a random key in devFile and reports created, so
// that the caller can warn loudly: a production deployment must supply its
// own key, kept apart from the data.
func MasterKey(value, file, devFile string) (key []byte, created bool, err error) {
	decode := func(s, from string) ([]byte, error) {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("piicrypt: master key from %s is not base64: %w", from, err)
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("piicrypt: master key from %s must be 32 bytes, got %d", from, len(k))
		}
		return k, nil
	}
	switch {
	case value != "":
		k, err := decode(value, "OMS_MASTER_KEY")
		return k, false, err
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, false, fmt.Errorf("piicrypt: read master key file: %w", err)
		}
		k, err := decode(string(b), file)
		return k, false, err
	}
	if b, err := os.ReadFile(devFile); err == nil {
		k, err := decode(string(b), devFile)
		return k, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("piicrypt: read dev master key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, false, fmt.Errorf("piicrypt: new master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(devFile), 0o750); err != nil {
		return nil, false, fmt.Errorf("piicrypt: %w", err)
	}
	// Written aside and linked into place, so that a process starting at
	// the same moment reads either no file or the whole key.
	tmp, err := os.CreateTemp(filepath.Dir(devFile), ".master-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("piicrypt: write dev master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("piicrypt: write dev master key: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("piicrypt: write dev master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("piicrypt: write dev master key: %w", err)
	}
	if err := os.Link(tmp.Name(), devFile); errors.Is(err, os.ErrExist) {
		return MasterKey("", "", devFile) // another process won: use its key
	} else if err != nil {
		return nil, false, fmt.Errorf("piicrypt: write dev master key: %w", err)
	}
	return k, true, nil
}
