package mongostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/projections/readstore/internal/storeutil"
)

// storedDoc is the stored shape of a document. Deadlines are int64 Unix
// nanoseconds, as in the SQLite adapter: BSON dates keep only milliseconds,
// and a keyset cursor must compare exactly with what is stored.
//
// The body is a BSON document when every server can store it as one, and
// the JSON text in body_json otherwise (see jsonToBSON).
type storedDoc struct {
	ID       string   `bson:"_id"`
	Position int64    `bson:"position"`
	Body     bson.Raw `bson:"body,omitempty"`
	BodyJSON string   `bson:"body_json,omitempty"`
	Status   string   `bson:"status,omitempty"`
	Assignee string   `bson:"assignee,omitempty"`
	Region   string   `bson:"region,omitempty"`
	Deadline int64    `bson:"deadline,omitempty"`
	Waiting  bool     `bson:"waiting,omitempty"`
	// Gone marks a tombstone (see tombstone); readers never see one.
	Gone time.Time `bson:"gone,omitempty"`
}

func (d *storedDoc) doc(kind readstore.Kind) (readstore.Doc, error) {
	body := []byte(d.BodyJSON)
	if d.BodyJSON == "" {
		var err error
		if body, err = bsonToJSON(d.Body); err != nil {
			return readstore.Doc{}, fmt.Errorf("body of %q: %w", d.ID, err)
		}
	}
	out := readstore.Doc{ID: d.ID, Position: storeutil.PositionFromInt(d.Position), Body: body}
	if kind == readstore.KindQueue {
		out.Queue = &readstore.QueueFields{
			Status:   d.Status,
			Assignee: d.Assignee,
			Region:   d.Region,
			Deadline: storeutil.DeadlineTime(d.Deadline),
			Waiting:  d.Waiting,
		}
	}
	return out, nil
}

// replacement builds the stored document. Queue fields are always written
// for queue documents, even when empty: a missing field would not match an
// equality filter on "" (unassigned) the way a stored "" does.
//
// A fenced flush (a non-zero token) stores its token with the document, so
// that a stale term's later write of it fails (see fenced).
func replacement(d readstore.Doc, fence uint64) (bson.D, error) {
	body, portable, err := jsonToBSON(d.Body)
	if err != nil {
		return nil, err
	}
	doc := bson.D{
		{Key: "_id", Value: d.ID},
		{Key: "position", Value: storeutil.PositionToInt(d.Position)},
	}
	if portable {
		doc = append(doc, bson.E{Key: "body", Value: body})
	} else {
		doc = append(doc, bson.E{Key: "body_json", Value: string(d.Body)})
	}
	if q := d.Queue; q != nil {
		doc = append(doc,
			bson.E{Key: "status", Value: q.Status},
			bson.E{Key: "assignee", Value: q.Assignee},
			bson.E{Key: "region", Value: q.Region},
			bson.E{Key: "deadline", Value: storeutil.DeadlineNanos(q.Deadline)},
			bson.E{Key: "waiting", Value: q.Waiting},
		)
	}
	if fence != 0 {
		doc = append(doc, bson.E{Key: "fence", Value: storeutil.PositionToInt(fence)})
	}
	return doc, nil
}

// tombstone is what a fenced flush stores in place of deleting a document.
// A deletion leaves nothing for a token to sit on, so a stale term's late
// upsert of the document would find no newer token in its way and bring
// it back; a tombstone carries the deleting term's token and makes that
// write fail as fenced like any other. Readers skip tombstones, and
// sweepTombstones removes them once Options.TombstoneTTL has passed.
func tombstone(d readstore.Doc, fence uint64, at time.Time) bson.D {
	return bson.D{
		{Key: "_id", Value: d.ID},
		{Key: "position", Value: storeutil.PositionToInt(d.Position)},
		{Key: "fence", Value: storeutil.PositionToInt(fence)},
		{Key: "gone", Value: at},
	}
}

// live narrows a filter to documents that are not tombstones.
func live(filter bson.D) bson.D {
	return append(slices.Clip(filter), bson.E{Key: "gone", Value: bson.D{{Key: "$exists", Value: false}}})
}

// Get reads a document through its alias.
func (s *Store) Get(ctx context.Context, logical, id string) (readstore.Doc, error) {
	v, err := s.getOp(ctx, logical, id)
	return v, unavailable(err)
}

func (s *Store) getOp(ctx context.Context, logical, id string) (readstore.Doc, error) {
	physical, kind, err := s.resolve(ctx, logical)
	if err != nil {
		return readstore.Doc{}, err
	}
	return s.getDoc(ctx, physical, kind, id)
}

// GetPhysical reads a document from a physical collection.
func (s *Store) GetPhysical(ctx context.Context, physical, id string) (readstore.Doc, error) {
	v, err := s.getPhysicalOp(ctx, physical, id)
	return v, unavailable(err)
}

func (s *Store) getPhysicalOp(ctx context.Context, physical, id string) (readstore.Doc, error) {
	kind, err := s.kindOf(ctx, physical)
	if err != nil {
		return readstore.Doc{}, err
	}
	return s.getDoc(ctx, physical, kind, id)
}

func (s *Store) getDoc(ctx context.Context, physical string, kind readstore.Kind, id string) (readstore.Doc, error) {
	if err := storeutil.CheckID(id); err != nil {
		return readstore.Doc{}, fmt.Errorf("mongostore: %s/%q: %w (%v)", physical, id, readstore.ErrNotFound, err)
	}
	var sd storedDoc
	err := s.db.Collection(physical).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sd)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && !sd.Gone.IsZero() {
		return readstore.Doc{}, fmt.Errorf("mongostore: %s/%s: %w", physical, id, readstore.ErrNotFound)
	}
	if err != nil {
		return readstore.Doc{}, fmt.Errorf("mongostore: get %s/%s: %w", physical, id, err)
	}
	d, err := sd.doc(kind)
	if err != nil {
		return readstore.Doc{}, fmt.Errorf("mongostore: get %s/%s: %w", physical, id, err)
	}
	return d, nil
}

// List is an _id range scan. MongoDB compares strings bytewise (without a
// collation), the order the port promises.
func (s *Store) List(ctx context.Context, q readstore.ListQuery) ([]readstore.Doc, error) {
	v, err := s.listOp(ctx, q)
	return v, unavailable(err)
}

func (s *Store) listOp(ctx context.Context, q readstore.ListQuery) ([]readstore.Doc, error) {
	physical, kind, err := s.resolve(ctx, q.Collection)
	if err != nil {
		return nil, err
	}
	limit := storeutil.Limit(q.Limit)
	start, exclusive := storeutil.ListStart(q)
	op := "$gte"
	if exclusive {
		op = "$gt"
	}
	rng := bson.D{{Key: op, Value: start}}
	if end := storeutil.PrefixEnd(q.Prefix); end != "" {
		rng = append(rng, bson.E{Key: "$lt", Value: end})
	}
	docs, err := s.find(ctx, physical, kind, bson.D{{Key: "_id", Value: rng}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("mongostore: list %s: %w", physical, err)
	}
	for i, d := range docs {
		if !strings.HasPrefix(d.ID, q.Prefix) {
			return docs[:i], nil
		}
	}
	return docs, nil
}

// Queue reads one page of a queue, sorted by (deadline, _id). MongoDB merges
// the per-status ranges of a $in itself (SORT_MERGE), so unlike the SQLite
// adapter this is one query.
func (s *Store) Queue(ctx context.Context, q readstore.QueueQuery) (readstore.QueuePage, error) {
	v, err := s.queueOp(ctx, q)
	return v, unavailable(err)
}

func (s *Store) queueOp(ctx context.Context, q readstore.QueueQuery) (readstore.QueuePage, error) {
	physical, kind, err := s.resolve(ctx, q.Collection)
	if err != nil {
		return readstore.QueuePage{}, err
	}
	if kind != readstore.KindQueue {
		return readstore.QueuePage{}, fmt.Errorf("mongostore: %q (%s) is not a queue collection", q.Collection, physical)
	}
	limit := storeutil.Limit(q.Limit)
	docs, err := s.find(ctx, physical, kind, queueFilter(q),
		options.Find().SetSort(bson.D{{Key: "deadline", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit+1)))
	if err != nil {
		return readstore.QueuePage{}, fmt.Errorf("mongostore: queue %s: %w", physical, err)
	}
	return storeutil.QueuePage(docs, limit), nil
}

func queueFilter(q readstore.QueueQuery) bson.D {
	f := bson.D{}
	var and bson.A
	statuses := slices.Compact(slices.Sorted(slices.Values(q.Status)))
	switch len(statuses) {
	case 0:
	case 1:
		f = append(f, bson.E{Key: "status", Value: statuses[0]})
	default:
		f = append(f, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: statuses}}})
	}
	if q.Assignee != nil {
		f = append(f, bson.E{Key: "assignee", Value: *q.Assignee})
	}
	if q.Region != "" {
		f = append(f, bson.E{Key: "region", Value: q.Region})
	}
	if q.Overdue != nil {
		now := storeutil.DeadlineNanos(q.Now)
		if *q.Overdue {
			and = append(and, bson.D{{Key: "waiting", Value: false}}, bson.D{{Key: "deadline", Value: bson.D{{Key: "$lt", Value: now}}}})
		} else {
			and = append(and, bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "waiting", Value: true}},
				bson.D{{Key: "deadline", Value: bson.D{{Key: "$gte", Value: now}}}},
			}}})
		}
	}
	if q.After != nil {
		d := storeutil.DeadlineNanos(q.After.Deadline)
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "deadline", Value: bson.D{{Key: "$gt", Value: d}}}},
			bson.D{{Key: "deadline", Value: d}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After.ID}}}},
		}}})
	}
	if q.Through != nil {
		d := storeutil.DeadlineNanos(q.Through.Deadline)
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "deadline", Value: bson.D{{Key: "$lt", Value: d}}}},
			bson.D{{Key: "deadline", Value: d}, {Key: "_id", Value: bson.D{{Key: "$lte", Value: q.Through.ID}}}},
		}}})
	}
	if q.ChangedAfter > 0 {
		f = append(f, bson.E{Key: "position", Value: bson.D{{Key: "$gt", Value: storeutil.PositionToInt(q.ChangedAfter)}}})
	}
	if len(and) > 0 {
		f = append(f, bson.E{Key: "$and", Value: and})
	}
	return f
}

func (s *Store) find(ctx context.Context, physical string, kind readstore.Kind, filter bson.D, opts *options.FindOptions) ([]readstore.Doc, error) {
	cur, err := s.db.Collection(physical).Find(ctx, live(filter), opts)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cur.Close(ctx) }()
	docs := []readstore.Doc{}
	for cur.Next(ctx) {
		var sd storedDoc
		if err := cur.Decode(&sd); err != nil {
			return nil, err
		}
		d, err := sd.doc(kind)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return docs, nil
}

// Flush validates the whole batch first, so that a bad write fails the
// flush before anything is written. Then it sends one unordered bulk write
// per collection and, only after all of them succeeded, the checkpoint. A
// crash in between leaves documents ahead of the checkpoint; the replay that
// follows skips them by Doc.Position. An unordered bulk write may apply its
// operations in any order, hence the reduction to the last write of each
// document. A fenced flush deletes by leaving a tombstone.
func (s *Store) Flush(ctx context.Context, writes []readstore.Write, cp readstore.Checkpoint) error {
	// BSON dates keep milliseconds; truncating here keeps what is stored
	// and what a caller may compare against the same.
	cp, err := storeutil.CheckCheckpoint(cp, time.Now().Truncate(time.Millisecond))
	if err != nil {
		return err
	}
	start := s.now()
	if err := s.checkFence(ctx, cp); err != nil {
		return err
	}
	writes = storeutil.LastWrites(writes)
	models := map[string][]mongo.WriteModel{}
	ids := map[string][]string{} // per collection, the _id of each model
	var order []string           // collections in the order of their first write
	for i, w := range writes {
		if _, seen := models[w.Collection]; !seen {
			order = append(order, w.Collection)
			models[w.Collection] = nil
		}
		kind, err := s.kindOf(ctx, w.Collection)
		if err != nil {
			return fmt.Errorf("mongostore: write %d: %w", i, err)
		}
		if err := storeutil.CheckWrite(w, kind); err != nil {
			return fmt.Errorf("mongostore: write %d: %w", i, err)
		}
		filter := bson.D{{Key: "_id", Value: w.Doc.ID}}
		if cp.Fence != 0 {
			filter = fenced(filter, "fence", cp.Fence)
		}
		ids[w.Collection] = append(ids[w.Collection], w.Doc.ID)
		if w.Delete && cp.Fence == 0 {
			models[w.Collection] = append(models[w.Collection], mongo.NewDeleteOneModel().SetFilter(filter))
			continue
		}
		if w.Delete {
			models[w.Collection] = append(models[w.Collection],
				mongo.NewReplaceOneModel().SetFilter(filter).SetReplacement(tombstone(w.Doc, cp.Fence, start)).SetUpsert(true))
			continue
		}
		doc, err := replacement(w.Doc, cp.Fence)
		if err != nil {
			return fmt.Errorf("mongostore: write %d (%s/%s): %w", i, w.Collection, w.Doc.ID, err)
		}
		models[w.Collection] = append(models[w.Collection],
			mongo.NewReplaceOneModel().SetFilter(filter).SetReplacement(doc).SetUpsert(true))
	}
	for _, coll := range order {
		if err := s.bulkWrite(ctx, coll, models[coll], ids[coll], cp.Fence); err != nil {
			return err
		}
	}
	if err := s.storeCheckpoint(ctx, cp); err != nil {
		return err
	}
	if cp.Fence != 0 {
		for _, coll := range order {
			s.sweepTombstones(ctx, coll, start)
		}
	}
	s.log.Debug("flushed", "projection", cp.Projection, "position", cp.Position, "writes", len(writes), "took", s.now().Sub(start))
	return nil
}

// sweepTombstones removes a collection's tombstones older than the TTL, at
// most once a quarter of the TTL per collection and store. Only fenced
// flushes sweep, so the leaseholder does it; losing a sweep is harmless (the
// next one takes them), so a failure is only logged.
func (s *Store) sweepTombstones(ctx context.Context, coll string, now time.Time) {
	s.sweepMu.Lock()
	due := now.Sub(s.swept[coll]) >= s.tombTTL/4
	if due {
		s.swept[coll] = now
	}
	s.sweepMu.Unlock()
	if !due {
		return
	}
	res, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "gone", Value: bson.D{{Key: "$lt", Value: now.Add(-s.tombTTL)}}}})
	if err != nil {
		s.log.Warn("tombstone sweep failed", "collection", coll, "err", err)
		return
	}
	if res.DeletedCount > 0 {
		s.log.Debug("tombstones swept", "collection", coll, "count", res.DeletedCount)
	}
}

// upsertRaces bounds the retries of upserts that lost an insert race.
const upsertRaces = 5

// bulkWrite sends one collection's writes, unordered. Two upserts of a new
// _id can race, and the loser fails with a duplicate key: MongoDB retries
// that race itself only for a filter on _id alone, which a fenced filter
// is not, and FerretDB never does. So the writes that failed so are read
// back: a newer token on any of them means this flush is fenced off
// (readstore.ErrFenced); otherwise the race was lost to a writer no newer
// than this one, and those writes go again, now as replacements of what
// that writer inserted.
func (s *Store) bulkWrite(ctx context.Context, coll string, models []mongo.WriteModel, ids []string, fence uint64) error {
	for race := 0; len(models) > 0; race++ {
		_, err := s.db.Collection(coll).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		if err == nil {
			return nil
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 || race == upsertRaces {
			return fmt.Errorf("mongostore: flush %d writes to %s: %w", len(models), coll, err)
		}
		var again []mongo.WriteModel
		var againIDs []string
		for _, we := range bwe.WriteErrors {
			if !duplicateKey(we.WriteError) || we.Index < 0 || we.Index >= len(models) {
				return fmt.Errorf("mongostore: flush %d writes to %s: %w", len(models), coll, err)
			}
			again = append(again, models[we.Index])
			againIDs = append(againIDs, ids[we.Index])
		}
		if fence != 0 {
			if err := s.newerFence(ctx, coll, againIDs, fence); err != nil {
				return err
			}
		}
		models, ids = again, againIDs
	}
	return nil
}

// newerFence reports readstore.ErrFenced if any of the documents carries a
// token above fence.
func (s *Store) newerFence(ctx context.Context, coll string, ids []string, fence uint64) error {
	cur, err := s.db.Collection(coll).Find(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "fence", Value: bson.D{{Key: "$gt", Value: storeutil.PositionToInt(fence)}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "fence", Value: 1}}).SetLimit(1))
	if err != nil {
		return fmt.Errorf("mongostore: read the tokens of %s: %w", coll, err)
	}
	var newer []storedDoc
	if err := cur.All(ctx, &newer); err != nil {
		return fmt.Errorf("mongostore: read the tokens of %s: %w", coll, err)
	}
	if len(newer) > 0 {
		return fmt.Errorf("mongostore: flush to %s with fencing token %d: a newer term wrote %s: %w", coll, fence, newer[0].ID, readstore.ErrFenced)
	}
	return nil
}

// duplicateKey is mongo.IsDuplicateKeyError for one write of a bulk write,
// which that function does not look into.
func duplicateKey(we mongo.WriteError) bool {
	return we.Code == 11000 || we.Code == 11001 || we.Code == 12582 || strings.Contains(we.Message, "E11000")
}
