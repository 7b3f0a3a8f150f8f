package streamdb

import "github.com/google/uuid"

func newID() [16]byte { return uuid.New() }
