package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events/esdbserver/esdbtest"
)

// omsd's embedded event store answers only its holders of the password,
// over TLS: in insecure mode any local process (or, with OMS_ESDB_LISTEN
// on a network address, anyone) read every event and appended a forged
// ApplicationApproved that the cabinet then showed.
func TestEmbeddedStoreNeedsThePassword(t *testing.T) {
	a, _ := startApp(t)
	good := a.EmbeddedStoreURL()
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	if u.Query().Get("tls") != "true" || len(pass) < 32 {
		t.Fatalf("the embedded store's URL is not TLS with a password: %s", strings.ReplaceAll(good, pass, "***"))
	}
	forge := func(rawURL string) error {
		c := esdbtest.ClientFor(t, rawURL)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.AppendToStream(ctx, "application-"+uuid.NewString(), esdb.AppendToStreamOptions{},
			esdb.EventData{EventType: "ApplicationApproved", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)})
		return err
	}
	plain := *u
	plain.User = nil
	plain.RawQuery = "tls=false"
	anon := *u
	anon.User = nil
	guessed := *u
	guessed.User = url.UserPassword("admin", "changeit")
	for name, bad := range map[string]string{"plain text": plain.String(), "TLS, no password": anon.String(), "TLS, the default password": guessed.String()} {
		if err := forge(bad); err == nil {
			t.Errorf("%s: an append was taken", name)
		}
	}
	if err := forge(good); err != nil {
		t.Fatalf("with the password: %v", err)
	}
}
