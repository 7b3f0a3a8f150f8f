package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

// keysColl is the key vault: {_id: key id, wrapped: binary or null,
// created_at, erased_at}. Creation relies only on the unique _id, which is
// atomic on every MongoDB-compatible server, so concurrent creators need no
// transaction to agree on one key.
const keysColl = "_readstore_keys"

// keys is the vault collection, read from the primary and written to a
// majority whatever the connection string says: an erasure must be seen
// by the next read on any node (an upload checks the vault after storing
// a scan, to delete it if its owner was erased meanwhile), which a
// secondary lagging behind would not show.
func (s *Store) keys() *mongo.Collection {
	return s.db.Collection(keysColl, options.Collection().
		SetReadPreference(readpref.Primary()).
		SetWriteConcern(writeconcern.Majority()))
}

type keyDoc struct {
	ID       string     `bson:"_id"`
	Wrapped  []byte     `bson:"wrapped"`
	Created  time.Time  `bson:"created_at"`
	ErasedAt *time.Time `bson:"erased_at,omitempty"`
}

// LoadKey implements readstore.Store.
func (s *Store) LoadKey(ctx context.Context, id string) (wrapped []byte, erased, found bool, err error) {
	wrapped, erased, found, err = s.loadKey(ctx, id)
	return wrapped, erased, found, unavailable(err)
}

func (s *Store) loadKey(ctx context.Context, id string) (wrapped []byte, erased, found bool, err error) {
	var d keyDoc
	err = s.keys().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("mongostore: load key: %w", err)
	}
	if d.ErasedAt != nil {
		return nil, true, true, nil
	}
	return d.Wrapped, false, true, nil
}

// EdgeKey implements readstore.Store. created_at has no index: the
// check runs once per start, and a full read of the vault then is cheaper
// than an index every key creation writes to.
func (s *Store) EdgeKey(ctx context.Context, newest bool) (string, []byte, bool, error) {
	dir := 1
	if newest {
		dir = -1
	}
	var d keyDoc
	err := s.keys().FindOne(ctx, bson.D{{Key: "erased_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.FindOne().SetSort(bson.D{{Key: "created_at", Value: dir}, {Key: "_id", Value: dir}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("mongostore: edge key: %w", err)
	}
	return d.ID, d.Wrapped, true, nil
}

// CreateKey implements readstore.Store.
func (s *Store) CreateKey(ctx context.Context, id string, wrapped []byte) ([]byte, bool, error) {
	if id == "" || len(wrapped) == 0 {
		return nil, false, errors.New("mongostore: create key: empty id or key")
	}
	_, err := s.keys().InsertOne(ctx, keyDoc{ID: id, Wrapped: wrapped, Created: time.Now().UTC()})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, false, fmt.Errorf("mongostore: create key: %w", err)
	}
	stored, erased, found, err := s.LoadKey(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if !found {
		return nil, false, fmt.Errorf("mongostore: create key %s: not readable after insert", id)
	}
	return stored, erased, nil
}

// EraseKey implements readstore.Store. The document keeps its id and loses
// its key bytes; MongoDB may keep the old bytes in its journal and oplog
// until they roll over, which is why keys are stored wrapped by the master
// key and never in the clear.
func (s *Store) EraseKey(ctx context.Context, id string) error {
	now := time.Now().UTC()
	_, err := s.keys().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "wrapped", Value: nil}, {Key: "erased_at", Value: now}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "created_at", Value: now}}}},
		options.Update().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: erase key: %w", err)
	}
	return nil
}

// Scrub implements readstore.Store. MongoDB reuses the space of deleted
// documents on its own and offers no portable way to wipe it (compact
// needs admin rights and does not zero), so there is nothing to do here;
// the README says so.
func (s *Store) Scrub(context.Context) error { return nil }
