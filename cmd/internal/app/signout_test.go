package app_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/omsonline/oms/cmd/internal/app"
)

// Signing out ends the session on every node: before, it only deleted the
// cookie, and a copy of the token kept opening the cabinet and taking
// uploads at the API (as a cookie and as a bearer token) for the rest of
// its eight hours.
func TestSignOutEndsTheSessionOnEveryNode(t *testing.T) {
	a, cfg := startApp(t)
	// A second node on the same event store, with the same signing key.
	cfg2 := cfg
	cfg2.DataDir = t.TempDir()
	cfg2.DevKeyDir = cfg.DataDir
	cfg2.ReadModelsDir = ""
	cfg2.HTTPAddr = "127.0.0.1:0"
	cfg2.ESDBURL = a.EmbeddedStoreURL()
	if err := cfg2.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := app.Start(context.Background(), cfg2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ca, cb := newClient(t, a, cfg), newClient(t, b, cfg)
	// The second node keeps read models of its own, which the first
	// node's projections do not fill: it is asked for uploads, which need
	// only the event store and its blob store.
	upload := func(s *sess) req {
		return req{method: "POST", path: "/api/v1/documents", session: s, multipart: &filePart{kind: "passport", content: []byte("%PDF-1.7\n%%EOF\n")}}
	}
	s := ca.session("applicant", "leaver")
	other := ca.session("applicant", "leaver") // the same person in another browser
	ca.must(req{method: "GET", path: "/api/v1/cabinet", session: s}, 200, nil)
	r := ca.do(req{method: "POST", path: "/signout", session: s, form: url.Values{}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
		t.Fatalf("sign-out: %d %s", r.status, r.header.Get("Location"))
	}
	// The node that signed out refuses the copy at once, as a cookie, as
	// a bearer token and for a write; the other node once its cached
	// check of the token lapses, and this one was never cached there.
	for _, rq := range []req{
		{method: "GET", path: "/api/v1/cabinet", session: s},
		{method: "GET", path: "/api/v1/cabinet", token: s.token},
		upload(s),
	} {
		if got := ca.do(rq); got.status != 401 || !strings.Contains(got.body, "session_ended") {
			t.Errorf("%s %s after sign-out: %d %s", rq.method, rq.path, got.status, got.body)
		}
	}
	if got := ca.do(req{method: "GET", path: "/cabinet", session: s}); got.status != 303 || !strings.HasPrefix(got.header.Get("Location"), "/signin") {
		t.Errorf("the cabinet page after sign-out: %d %s", got.status, got.header.Get("Location"))
	}
	s2 := cb.session("applicant", "leaver")
	cb.must(upload(s2), 201, nil)
	// A fresh token for the second node: the first one's check is cached
	// there from before the sign-out, for at most authn.VerifiedTTL.
	signedOut := ca.session("applicant", "leaver")
	ca.do(req{method: "POST", path: "/signout", session: signedOut, form: url.Values{}})
	if got := cb.do(upload(signedOut)); got.status != 401 || !strings.Contains(got.body, "session_ended") {
		t.Errorf("the other node took a session signed out on the first: %d %s", got.status, got.body)
	}
	// The person's other sessions go on.
	ca.must(req{method: "GET", path: "/api/v1/cabinet", session: other}, 200, nil)
	cb.must(upload(s2), 201, nil)
}
