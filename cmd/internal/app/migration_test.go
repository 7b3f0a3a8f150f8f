package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events/schema"
)

// omsd runs the account reservation migration at start, once per event
// store: its completion is recorded in its stream.
func TestStartRunsTheAccountMigration(t *testing.T) {
	a, _ := startApp(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		last, err := a.Events().LoadLast(context.Background(), schema.MigrationStream(service.AccountsMigration))
		if err != nil {
			t.Fatal(err)
		}
		if last != nil {
			if last.Envelope.Type != schema.TypeMigrationCompleted {
				t.Fatalf("migration stream ends with %s", last.Envelope.Type)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the account migration did not complete within 10 s of the start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
