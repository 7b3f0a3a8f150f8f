// Package mongostore is the MongoDB readstore adapter, for deployments that
// run the query side on several nodes. It uses only plain CRUD, indexes and
// GridFS (no transactions, change streams or aggregation), so that it also
// runs on MongoDB-compatible servers such as FerretDB, which the tests use.
//
// Layout in Options.Database:
//
//	<physical>                one collection per physical collection
//	_readstore_collections    {_id: physical, kind}
//	_readstore_aliases        one document {_id: "aliases", aliases: {logical: physical}}
//	_readstore_checkpoints    {_id: projection, position, generation, updated_at}
//	scans.files, scans.chunks GridFS bucket "scans", filename = SHA-256
//
// Collection names start with a letter and internal ones with "_", so they
// never collide. All aliases live in one document because a single-document
// update is the only atomic multi-value write MongoDB offers without
// transactions, and SetAliases must switch several names at once.
//
// Aliases and collection kinds are cached for at most CatalogTTL (1 s): a
// switch made by another process is seen within a second, one made by this
// Store at once. Callers therefore wait a little longer than that before
// dropping a collection they have switched away from.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

const (
	collectionsColl = "_readstore_collections"
	aliasesColl     = "_readstore_aliases"
	checkpointsColl = "_readstore_checkpoints"
	aliasesDocID    = "aliases"

	// MaxCatalogTTL is the longest Options.CatalogTTL may be; readstore
	// callers rely on seeing alias switches within it.
	MaxCatalogTTL = time.Second
)

// Options configure Open.
type Options struct {
	// URI is a MongoDB connection string.
	URI string
	// Database holds all collections of this store.
	Database string
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// CatalogTTL is how long aliases and collection kinds are cached.
	// Zero means MaxCatalogTTL; longer values are cut to it; a negative
	// value disables the cache (every read looks the alias up).
	CatalogTTL time.Duration
	// TombstoneTTL is how long a fenced deletion's tombstone is kept (see
	// Flush). A stale term's write that reaches the server later than this
	// after its successor deleted the document can bring the document back,
	// so it is far longer than a flush can take. Zero means
	// DefaultTombstoneTTL.
	TombstoneTTL time.Duration
	// SelectionTimeout bounds how long an operation waits for a server;
	// zero means DefaultSelectionTimeout.
	SelectionTimeout time.Duration
}

// DefaultSelectionTimeout bounds how long an operation waits for a
// MongoDB server to send it to.
const DefaultSelectionTimeout = 5 * time.Second

// unavailable marks an error of a server that does not answer with
// readstore.ErrUnavailable, so that the API answers 503 and Retry-After.
func unavailable(err error) error {
	if err == nil || errors.Is(err, readstore.ErrUnavailable) {
		return err
	}
	if errors.As(err, &topology.ServerSelectionError{}) || mongo.IsNetworkError(err) || (mongo.IsTimeout(err) && !errors.Is(err, context.Canceled)) {
		return fmt.Errorf("%w: %w", readstore.ErrUnavailable, err)
	}
	return err
}

// DefaultTombstoneTTL is the default Options.TombstoneTTL.
const DefaultTombstoneTTL = time.Hour

// Store is the MongoDB readstore adapter. It is safe for concurrent use.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	log    *slog.Logger
	ttl    time.Duration
	// tombTTL is Options.TombstoneTTL; now is time.Now outside tests.
	tombTTL time.Duration
	now     func() time.Time

	sweepMu sync.Mutex
	swept   map[string]time.Time // per collection, the last tombstone sweep

	catMu sync.Mutex
	cat   *catalog
	// gens is the generation each projection's checkpoint last had here.
	gens map[string]int
}

// catalog is a snapshot of the aliases and collection kinds.
type catalog struct {
	loaded  time.Time
	aliases map[string]string
	kinds   map[string]readstore.Kind
}

var _ readstore.Store = (*Store)(nil)

// Open connects to MongoDB and checks that the server answers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URI == "" || opts.Database == "" {
		return nil, errors.New("mongostore: Options.URI and Options.Database are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "readstore", "adapter", "mongo", "database", opts.Database)
	ttl := opts.CatalogTTL
	switch {
	case ttl == 0 || ttl > MaxCatalogTTL:
		ttl = MaxCatalogTTL
	case ttl < 0:
		ttl = 0
	}

	// The driver waits 30 s for a server by default, and a request could
	// wait twice (alias, then document): during an outage pages hung for a
	// minute and then answered 500. A replica set elects a new primary in
	// about ten seconds; a read waits a bounded while and is then refused
	// as unavailable (see unavailable). A URI's own serverSelectionTimeoutMS
	// still wins.
	sel := opts.SelectionTimeout
	if sel <= 0 {
		sel = DefaultSelectionTimeout
	}
	copts := options.Client().SetServerSelectionTimeout(sel).ApplyURI(opts.URI)
	client, err := mongo.Connect(ctx, copts)
	if err != nil {
		return nil, fmt.Errorf("mongostore: connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongostore: ping: %w", err)
	}
	tombTTL := opts.TombstoneTTL
	if tombTTL <= 0 {
		tombTTL = DefaultTombstoneTTL
	}
	s := &Store{client: client, db: client.Database(opts.Database), log: log, ttl: ttl,
		tombTTL: tombTTL, now: time.Now, swept: map[string]time.Time{}}
	s.cleanUploads(ctx)
	log.Info("readstore opened")
	return s, nil
}

// Close disconnects from MongoDB.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongostore: disconnect: %w", err)
	}
	return nil
}

// --- catalog ---------------------------------------------------------------

// catalog returns a snapshot no older than the TTL; fresh forces a reload.
func (s *Store) catalog(ctx context.Context, fresh bool) (*catalog, error) {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	if !fresh && s.cat != nil && time.Since(s.cat.loaded) < s.ttl {
		return s.cat, nil
	}
	cat, err := s.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	s.cat = cat
	return cat, nil
}

// invalidate makes the next read reload the catalog, so that this Store
// sees its own changes at once.
func (s *Store) invalidate() {
	s.catMu.Lock()
	s.cat = nil
	s.catMu.Unlock()
}

func (s *Store) loadCatalog(ctx context.Context) (*catalog, error) {
	cat := &catalog{loaded: time.Now(), aliases: map[string]string{}, kinds: map[string]readstore.Kind{}}

	var doc struct {
		Aliases map[string]string `bson:"aliases"`
	}
	err := s.db.Collection(aliasesColl).FindOne(ctx, bson.D{{Key: "_id", Value: aliasesDocID}}).Decode(&doc)
	switch {
	case err == nil:
		maps.Copy(cat.aliases, doc.Aliases)
	case !errors.Is(err, mongo.ErrNoDocuments):
		return nil, fmt.Errorf("mongostore: load aliases: %w", err)
	}

	cur, err := s.db.Collection(collectionsColl).Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongostore: load collections: %w", err)
	}
	var colls []struct {
		Name string `bson:"_id"`
		Kind int    `bson:"kind"`
	}
	if err := cur.All(ctx, &colls); err != nil {
		return nil, fmt.Errorf("mongostore: load collections: %w", err)
	}
	for _, c := range colls {
		cat.kinds[c.Name] = readstore.Kind(c.Kind)
	}
	return cat, nil
}

// resolve maps a logical name to its physical collection and kind.
func (s *Store) resolve(ctx context.Context, logical string) (string, readstore.Kind, error) {
	if err := storeutil.CheckName(logical); err != nil {
		return "", 0, err
	}
	cat, err := s.catalog(ctx, false)
	if err != nil {
		return "", 0, err
	}
	physical, ok := cat.aliases[logical]
	if !ok {
		return "", 0, fmt.Errorf("mongostore: logical collection %q: %w", logical, readstore.ErrNoCollection)
	}
	kind, ok := cat.kinds[physical]
	if !ok {
		return "", 0, fmt.Errorf("mongostore: collection %q (alias of %q): %w", physical, logical, readstore.ErrNoCollection)
	}
	return physical, kind, nil
}

func (s *Store) kindOf(ctx context.Context, physical string) (readstore.Kind, error) {
	if err := storeutil.CheckName(physical); err != nil {
		return 0, err
	}
	cat, err := s.catalog(ctx, false)
	if err != nil {
		return 0, err
	}
	kind, ok := cat.kinds[physical]
	if !ok {
		return 0, fmt.Errorf("mongostore: collection %q: %w", physical, readstore.ErrNoCollection)
	}
	return kind, nil
}

// --- collections and aliases ---------------------------------------------

// queueIndexes mirror the SQLite adapter's: equality fields first, then
// (deadline, _id), so a filtered page is an ordered index range.
var queueIndexes = []mongo.IndexModel{
	{Keys: bson.D{{Key: "status", Value: 1}, {Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("status_deadline")},
	{Keys: bson.D{{Key: "assignee", Value: 1}, {Key: "status", Value: 1}, {Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("assignee_status_deadline")},
	{Keys: bson.D{{Key: "region", Value: 1}, {Key: "status", Value: 1}, {Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("region_status_deadline")},
	{Keys: bson.D{{Key: "assignee", Value: 1}, {Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("assignee_deadline")},
	{Keys: bson.D{{Key: "region", Value: 1}, {Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("region_deadline")},
	{Keys: bson.D{{Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("deadline")},
}

// goneIndex finds the tombstones old enough to sweep without reading the
// collection. It is sparse, so live documents, which have no "gone", cost
// it nothing (FerretDB ignores the option and indexes them all).
var goneIndex = mongo.IndexModel{Keys: bson.D{{Key: "gone", Value: 1}}, Options: options.Index().SetName("gone").SetSparse(true)}

// EnsureCollection creates the collection and its indexes, then registers
// it; a registered collection is therefore always ready to use.
func (s *Store) EnsureCollection(ctx context.Context, physical string, kind readstore.Kind) error {
	if err := storeutil.CheckName(physical); err != nil {
		return err
	}
	if err := storeutil.CheckKind(kind); err != nil {
		return err
	}
	cat, err := s.catalog(ctx, true)
	if err != nil {
		return err
	}
	if existing, ok := cat.kinds[physical]; ok && existing != kind {
		return fmt.Errorf("mongostore: collection %q exists with kind %d, not %d", physical, existing, kind)
	}
	if err := s.db.CreateCollection(ctx, physical); err != nil {
		// The portable test for "already exists": servers differ in the
		// error they return.
		names, lerr := s.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: physical}})
		if lerr != nil || !slices.Contains(names, physical) {
			return fmt.Errorf("mongostore: create collection %q: %w", physical, err)
		}
	}
	want := []mongo.IndexModel{goneIndex}
	if kind == readstore.KindQueue {
		want = append(want, queueIndexes...)
	}
	if err := s.createIndexes(ctx, physical, want); err != nil {
		return err
	}
	_, err = s.db.Collection(collectionsColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: physical}},
		bson.D{{Key: "_id", Value: physical}, {Key: "kind", Value: int(kind)}}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: register collection %q: %w", physical, err)
	}
	s.invalidate()
	if _, ok := cat.kinds[physical]; !ok {
		s.log.Info("collection created", "collection", physical, "kind", int(kind))
	}
	return nil
}

// createIndexes creates the indexes that do not exist yet. Sending only the
// missing ones is not just cheaper: FerretDB v1 panics (and drops the
// connection) when one createIndexes call repeats several existing indexes.
func (s *Store) createIndexes(ctx context.Context, physical string, want []mongo.IndexModel) error {
	cur, err := s.db.Collection(physical).Indexes().List(ctx)
	if err != nil {
		return fmt.Errorf("mongostore: list indexes of %q: %w", physical, err)
	}
	var have []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &have); err != nil {
		return fmt.Errorf("mongostore: list indexes of %q: %w", physical, err)
	}
	names := map[string]bool{}
	for _, h := range have {
		names[h.Name] = true
	}
	var missing []mongo.IndexModel
	for _, m := range want {
		if !names[*m.Options.Name] {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := s.db.Collection(physical).Indexes().CreateMany(ctx, missing); err != nil {
		return fmt.Errorf("mongostore: create indexes of %q: %w", physical, err)
	}
	return nil
}

// DropCollection unregisters the collection first, so that no reader that
// reloads its catalog finds it registered but gone, and then drops it.
func (s *Store) DropCollection(ctx context.Context, physical string) error {
	if err := storeutil.CheckName(physical); err != nil {
		return err
	}
	cat, err := s.catalog(ctx, true)
	if err != nil {
		return err
	}
	for logical, p := range cat.aliases {
		if p == physical {
			return fmt.Errorf("mongostore: collection %q is still aliased as %q", physical, logical)
		}
	}
	if _, err := s.db.Collection(collectionsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: physical}}); err != nil {
		return fmt.Errorf("mongostore: unregister %q: %w", physical, err)
	}
	s.invalidate()
	if err := s.db.Collection(physical).Drop(ctx); err != nil {
		return fmt.Errorf("mongostore: drop %q: %w", physical, err)
	}
	if _, ok := cat.kinds[physical]; ok {
		s.log.Info("collection dropped", "collection", physical)
	}
	return nil
}

// SetAliases changes all aliases in one single-document update. The targets
// are checked against a fresh catalog first; without transactions a
// collection dropped concurrently can slip through, which is why drops
// refuse aliased collections and callers delay them.
func (s *Store) SetAliases(ctx context.Context, aliases map[string]string) error {
	set, unset := bson.D{}, bson.D{}
	for _, l := range slices.Sorted(maps.Keys(aliases)) {
		if err := storeutil.CheckName(l); err != nil {
			return err
		}
		p := aliases[l]
		if p == "" {
			unset = append(unset, bson.E{Key: "aliases." + l, Value: ""})
			continue
		}
		if err := storeutil.CheckName(p); err != nil {
			return err
		}
		set = append(set, bson.E{Key: "aliases." + l, Value: p})
	}
	if len(set)+len(unset) == 0 {
		return nil
	}
	cat, err := s.catalog(ctx, true)
	if err != nil {
		return err
	}
	for _, e := range set {
		if _, ok := cat.kinds[e.Value.(string)]; !ok {
			return fmt.Errorf("mongostore: alias %s → %q: %w", e.Key, e.Value, readstore.ErrNoCollection)
		}
	}
	update := bson.D{}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	_, err = s.db.Collection(aliasesColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: aliasesDocID}}, update,
		options.Update().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: set aliases: %w", err)
	}
	s.invalidate()
	s.log.Info("aliases set", "aliases", aliases)
	return nil
}

// Alias reads one alias from the (cached) catalog.
func (s *Store) Alias(ctx context.Context, logical string) (string, error) {
	v, err := s.aliasOp(ctx, logical)
	return v, unavailable(err)
}

func (s *Store) aliasOp(ctx context.Context, logical string) (string, error) {
	if err := storeutil.CheckName(logical); err != nil {
		return "", err
	}
	cat, err := s.catalog(ctx, false)
	if err != nil {
		return "", err
	}
	p, ok := cat.aliases[logical]
	if !ok {
		return "", fmt.Errorf("mongostore: alias %q: %w", logical, readstore.ErrNotFound)
	}
	return p, nil
}

// --- checkpoints -----------------------------------------------------------

type checkpointDoc struct {
	Projection string    `bson:"_id"`
	Position   int64     `bson:"position"`
	Generation int       `bson:"generation"`
	UpdatedAt  time.Time `bson:"updated_at"` // a BSON date: milliseconds
	Fence      int64     `bson:"fence,omitempty"`
}

func (d checkpointDoc) checkpoint() readstore.Checkpoint {
	return readstore.Checkpoint{
		Projection: d.Projection,
		Position:   storeutil.PositionFromInt(d.Position),
		Generation: d.Generation,
		UpdatedAt:  d.UpdatedAt.UTC(),
		Fence:      storeutil.PositionFromInt(d.Fence),
	}
}

// LoadCheckpoint reads one checkpoint.
func (s *Store) LoadCheckpoint(ctx context.Context, projection string) (readstore.Checkpoint, error) {
	v, err := s.loadCheckpointOp(ctx, projection)
	return v, unavailable(err)
}

func (s *Store) loadCheckpointOp(ctx context.Context, projection string) (readstore.Checkpoint, error) {
	var d checkpointDoc
	err := s.db.Collection(checkpointsColl).FindOne(ctx, bson.D{{Key: "_id", Value: projection}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return readstore.Checkpoint{}, fmt.Errorf("mongostore: checkpoint %q: %w", projection, readstore.ErrNotFound)
	}
	if err != nil {
		return readstore.Checkpoint{}, fmt.Errorf("mongostore: checkpoint %q: %w", projection, err)
	}
	cp := d.checkpoint()
	s.sawGeneration(ctx, cp)
	return cp, nil
}

// sawGeneration reloads the catalog when a projection's checkpoint names
// a generation other than the one it named last here (or is read here
// for the first time, with a catalog perhaps loaded before). A rebuild's switch
// sets the aliases before that checkpoint, so a process that waited for
// the checkpoint (read-your-writes off the leaseholder) reads through the
// new aliases; through the cached ones it read the old generation, which
// no longer receives writes, for up to CatalogTTL.
func (s *Store) sawGeneration(ctx context.Context, cp readstore.Checkpoint) {
	s.catMu.Lock()
	prev, seen := s.gens[cp.Projection]
	s.catMu.Unlock()
	if seen && prev == cp.Generation {
		return
	}
	// Noted only once reloaded: a reader that finds it noted finds the
	// catalog loaded after the switch too.
	if _, err := s.catalog(ctx, true); err != nil {
		s.log.WarnContext(ctx, "reload the catalog after a switch", "projection", cp.Projection, "err", err)
		return
	}
	s.catMu.Lock()
	if s.gens == nil {
		s.gens = map[string]int{}
	}
	s.gens[cp.Projection] = cp.Generation
	s.catMu.Unlock()
}

// Checkpoints lists all checkpoints by projection name.
func (s *Store) Checkpoints(ctx context.Context) ([]readstore.Checkpoint, error) {
	cur, err := s.db.Collection(checkpointsColl).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: list checkpoints: %w", err)
	}
	var docs []checkpointDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongostore: list checkpoints: %w", err)
	}
	out := make([]readstore.Checkpoint, len(docs))
	for i, d := range docs {
		out[i] = d.checkpoint()
	}
	return out, nil
}

// storeCheckpoint stores cp unless a newer term stored its token
// (readstore.ErrFenced). The token stays the highest one given: an
// unfenced checkpoint ($set without it) leaves it as it is.
func (s *Store) storeCheckpoint(ctx context.Context, cp readstore.Checkpoint) error {
	set := bson.D{
		{Key: "position", Value: storeutil.PositionToInt(cp.Position)},
		{Key: "generation", Value: cp.Generation},
		{Key: "updated_at", Value: cp.UpdatedAt},
	}
	filter := bson.D{{Key: "_id", Value: cp.Projection}}
	if cp.Fence != 0 {
		set = append(set, bson.E{Key: "fence", Value: storeutil.PositionToInt(cp.Fence)})
		filter = fenced(filter, "fence", cp.Fence)
	}
	// A duplicate key is an upsert that lost the race to insert the
	// checkpoint (see bulkWrite), or, fenced, one whose filter met a newer
	// token: told apart by reading the checkpoint back.
	for race := 0; ; race++ {
		_, err := s.db.Collection(checkpointsColl).UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}}, options.Update().SetUpsert(true))
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) || race == upsertRaces {
			return fmt.Errorf("mongostore: store checkpoint %q: %w", cp.Projection, err)
		}
		if err := s.checkFence(ctx, cp); err != nil {
			return err
		}
	}
}

// fenced narrows an _id filter to a document that no newer term wrote:
// one without a token in field or with one no higher than token. An upsert
// under it that meets a newer document fails on the duplicate _id instead
// of replacing it, which is how a stale write learns it is fenced off.
func fenced(filter bson.D, field string, token uint64) bson.D {
	return append(filter, bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: field, Value: bson.D{{Key: "$lte", Value: storeutil.PositionToInt(token)}}}},
	}})
}

// checkFence refuses a flush early, before it writes any document, when a
// newer term has stored its token with the projection's checkpoint. The
// documents' own tokens and the checkpoint's conditional write catch a
// term that begins after this read.
func (s *Store) checkFence(ctx context.Context, cp readstore.Checkpoint) error {
	if cp.Fence == 0 {
		return nil
	}
	var d checkpointDoc
	err := s.db.Collection(checkpointsColl).FindOne(ctx, bson.D{{Key: "_id", Value: cp.Projection}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mongostore: read the fence of %q: %w", cp.Projection, err)
	}
	if stored := storeutil.PositionFromInt(d.Fence); stored > cp.Fence {
		return fmt.Errorf("mongostore: flush of %q with fencing token %d, a newer term stored %d: %w", cp.Projection, cp.Fence, stored, readstore.ErrFenced)
	}
	return nil
}
