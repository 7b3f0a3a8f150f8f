package app_test

import (
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events/esdbserver"
	"github.com/omsonline/oms/projections/readstore/sqlitestore"
)

// TestFailoverAcrossProcesses runs two omsd processes on one event store
// (a third process) and one shared read-model directory, the scale-out
// picture on one machine. Exactly one runs the projections; when it is
// killed with SIGKILL the other takes over within the lease time and the
// read models end up with every acknowledged command. A third node, started
// with OMS_RUN_PROJECTIONS=false, serves commands and reads throughout and
// never takes the lease, not even when it is free.
func TestFailoverAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts omsd processes")
	}
	esdbDir := t.TempDir()
	srv, err := esdbserver.Start(esdbserver.Options{Addr: "127.0.0.1:0", Dir: esdbDir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	shared := t.TempDir() // read models and the dev signing key
	env := func(dir string) []string {
		return []string{
			"OMS_ESDB_URL=" + fmt.Sprintf("esdb://%s?tls=false", srv.Addr()),
			"OMS_READMODELS_DIR=" + shared + "/readmodels",
			"OMS_LEASE_TTL=2s",
			"OMS_DEV_KEY_DIR=" + shared,
		}
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	cmdA, addrA := startChild(t, dirA, env(dirA)...)
	defer func() { cmdA.Process.Kill(); cmdA.Wait() }()
	cmdB, addrB := startChild(t, dirB, env(dirB)...)
	defer func() { cmdB.Process.Kill(); cmdB.Wait() }()
	dirC := t.TempDir()
	cmdC, addrC := startChild(t, dirC, append(env(dirC), "OMS_RUN_PROJECTIONS=false")...)
	defer func() { cmdC.Process.Kill(); cmdC.Wait() }()

	cfg := config.Defaults()
	cfg.DataDir = shared
	// Six people, one application each (an account holds one open
	// application).
	people := make([]string, 6)
	for i := range people {
		people[i] = token(t, cfg, "applicant", fmt.Sprintf("person-%d", i))
	}
	shown := func(c remoteClient, n int, after uint64) int {
		sum := 0
		for _, tok := range people[:n] {
			sum += cabinetCount(t, c, tok, after)
		}
		return sum
	}
	a, b, serving := remoteClient{addrA}, remoteClient{addrB}, remoteClient{addrC}

	leader := func() string {
		for _, c := range []remoteClient{a, b, serving} {
			if code, body, err := c.request("", "GET", "/readyz", ""); err == nil && code == 200 && strings.Contains(string(body), "run here") {
				return c.addr
			}
		}
		return ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for leader() == "" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	first := leader()
	if first == "" {
		t.Fatal("no node took the projection lease")
	}
	if first == addrC {
		t.Fatal("the node started with OMS_RUN_PROJECTIONS=false took the projection lease")
	}
	holder, survivor, holderCmd := a, b, cmdA
	if first == addrB {
		holder, survivor, holderCmd = b, a, cmdB
	}
	if code, body, err := serving.request("", "GET", "/readyz", ""); err != nil || code != 200 || !strings.Contains(string(body), "runs no projections") {
		t.Fatalf("/readyz of the node without projections: %d %s %v", code, body, err)
	}

	// Commands through the node that does not project; reads through both.
	var ids []string
	var last uint64
	for i := 0; i < 3; i++ {
		id, pos := submitVia(t, survivor, people[i], fmt.Sprintf("71%05d", i))
		ids = append(ids, id)
		last = pos
	}
	// And one through the node that runs no projections, read back through
	// it: it waits for the leaseholder's checkpoint.
	id, pos := submitVia(t, serving, people[3], "7100003")
	ids = append(ids, id)
	if n := shown(serving, 4, pos); n != 4 {
		t.Fatalf("%s (no projections) shows %d applications, want 4", serving.addr, n)
	}
	for _, c := range []remoteClient{holder, survivor} {
		if n := shown(c, 3, last); n != 3 {
			t.Fatalf("%s shows %d applications, want 3", c.addr, n)
		}
	}

	// The lease term's fencing token reaches the store with each
	// checkpoint; the survivor's term has a newer one.
	models, err := sqlitestore.Open(t.Context(), sqlitestore.Options{Dir: shared + "/readmodels"})
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close()
	fence := func() uint64 {
		t.Helper()
		cp, err := models.LoadCheckpoint(t.Context(), "cabinet")
		if err != nil {
			t.Fatal(err)
		}
		return cp.Fence
	}
	firstTerm := fence()
	if firstTerm == 0 {
		t.Fatal("the leaseholder's cabinet checkpoint carries no fencing token")
	}

	if err := holderCmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for i := 4; i < 6; i++ {
		_, pos := submitVia(t, survivor, people[i], fmt.Sprintf("71%05d", i))
		last = pos
	}
	if n := shown(survivor, 6, last); n != 6 {
		t.Fatalf("after failover the survivor shows %d applications, want 6", n)
	}
	took := time.Since(killed)
	if leader() != survivor.addr {
		t.Fatal("the survivor does not report running the projections")
	}
	if took > 2*time.Second+5*time.Second {
		t.Fatalf("take-over took %v with a 2s lease", took)
	}
	next := fence()
	if next <= firstTerm {
		t.Fatalf("the survivor's cabinet checkpoint carries fencing token %d, not newer than the first term's %d", next, firstTerm)
	}
	// And operators see it: the projections' status names the term.
	code, body, err := survivor.request(token(t, cfg, "admin", "admin-1"), "GET", "/api/v1/admin/projections", "")
	if err != nil || code != 200 {
		t.Fatalf("projections status: %d %s %v", code, body, err)
	}
	var rows []struct {
		Name string
		Term uint64
	}
	if err := jsonUnmarshal(body, &rows); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		if r.Name == "cabinet" {
			found = true
			if r.Term != next {
				t.Fatalf("projections status shows the cabinet at term %d, its checkpoint %d", r.Term, next)
			}
		}
	}
	if !found {
		t.Fatalf("projections status has no cabinet: %s", body)
	}
	t.Logf("leaseholder killed; the survivor projected the next commands %v later", took.Round(time.Millisecond))
}

func submitVia(t *testing.T, c remoteClient, tok, passport string) (string, uint64) {
	t.Helper()
	docs := map[string]string{}
	for i, kind := range []string{"passport", "residence_document", "consent"} {
		id, ok := c.upload(tok, kind, []byte(fmt.Sprintf("%%PDF-1.7\n%s %d\n%%%%EOF\n", passport, i)))
		if !ok {
			t.Fatalf("upload via %s failed", c.addr)
		}
		docs[kind] = id
	}
	code, body, err := c.request(tok, "POST", "/api/v1/applications", formJSON(passport, docs))
	if err != nil || code != 201 {
		t.Fatalf("submit via %s: %d %s %v", c.addr, code, body, err)
	}
	var r result
	if err := jsonUnmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r.ApplicationID, r.Position
}

func cabinetCount(t *testing.T, c remoteClient, tok string, after uint64) int {
	t.Helper()
	code, body, err := c.request(tok, "GET", fmt.Sprintf("/api/v1/cabinet?after=%d", after), "")
	if err != nil || code != 200 {
		t.Fatalf("cabinet via %s: %d %s %v", c.addr, code, body, err)
	}
	var doc struct{ Applications []any }
	if err := jsonUnmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return len(doc.Applications)
}

// A node started with OMS_RUN_PROJECTIONS=false takes commands but never
// campaigns for the projections, even alone on its stores, where a node
// otherwise takes the lease at once.
func TestANodeWithoutProjectionsServesCommandsAndTakesNoLease(t *testing.T) {
	a, cfg := startWithLog(t, slog.DiscardHandler, func(c *config.Config) { c.RunProjections = false })
	c := newClient(t, a, cfg)
	r, _ := c.submit(karimov("no-projections-1", "7200001"), c.token("applicant", "no-projections-1"), "")
	if r.Position == 0 {
		t.Fatalf("submit answered no position: %+v", r)
	}
	time.Sleep(500 * time.Millisecond) // the lease's first campaign is immediate
	if a.Projections().Leading() {
		t.Fatal("a node with OMS_RUN_PROJECTIONS=false runs the projections")
	}
	code, body := call(t, a, "GET", "/readyz", "", "")
	if code != 200 || !strings.Contains(string(body), "runs no projections") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
}
