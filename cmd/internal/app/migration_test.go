package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events/schema"
)

// omsd runs the reservation migrations at start, once per event store:
// each one's completion is recorded in its stream.
func TestStartRunsTheReservationMigrations(t *testing.T) {
	a, _ := startApp(t)
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range []string{service.AccountsMigration, service.DocumentsMigration} {
		for {
			last, err := a.Events().LoadLast(context.Background(), schema.MigrationStream(name))
			if err != nil {
				t.Fatal(err)
			}
			if last != nil {
				if last.Envelope.Type != schema.TypeMigrationCompleted {
					t.Fatalf("migration stream %s ends with %s", name, last.Envelope.Type)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s migration did not complete within 10 s of the start", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
