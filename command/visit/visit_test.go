package visit_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/visit"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/esdbserver/esdbtest"
	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/events/testclock"
)

type fixture struct {
	store *eventstore.Store
	clk   *testclock.Clock
	// two nodes on one store: what one records, the other must obey.
	a, b *visit.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: esdbtest.Store(t, eventstore.Options{}), clk: testclock.New(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))}
	for _, s := range []**visit.Service{&f.a, &f.b} {
		svc, err := visit.NewService(visit.Options{Store: f.store, Secret: []byte("test secret"), Now: f.clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		*s = svc
	}
	return f
}

func applicant(id string) events.Metadata {
	return events.Metadata{Actor: events.Actor{ID: id, Role: events.RoleApplicant}, CorrelationID: "c-" + id}
}

func operator(id string) events.Metadata {
	return events.Metadata{Actor: events.Actor{ID: id, Role: events.RoleOperator}, CorrelationID: "c-" + id}
}

func code(t *testing.T, err error) string {
	t.Helper()
	e, ok := cmderr.As(err)
	if !ok {
		t.Fatalf("want a refusal, got %v", err)
	}
	if e.Message.RU == "" || e.Message.EN == "" {
		t.Errorf("%s: a refusal in both languages, got %+v", e.Code, e.Message)
	}
	return e.Code
}

// issue gives applicant a code, on node a.
func (f *fixture) issue(t *testing.T, applicantID string) visit.Code {
	t.Helper()
	c, err := f.a.IssueCode(context.Background(), applicant(applicantID))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// otherThan is want, or another code when want is code itself: a wrong
// code for sure.
func otherThan(code, want string) string {
	if code != want {
		return want
	}
	if want == "000000" {
		return "000001"
	}
	return "000000"
}

func (f *fixture) open(t *testing.T, s *visit.Service, op, app string) bool {
	t.Helper()
	ok, err := s.Open(context.Background(), op, app)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestAVisitOpensWithTheApplicantsCodeOnlyForThatOperator(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if f.open(t, f.a, "op-1", "alice") {
		t.Fatal("a visit is open before any code")
	}
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", "123456"); code(t, err) != "visit_code_absent" {
		t.Fatalf("no code yet: %v", err)
	}
	c := f.issue(t, "alice")
	if len(c.Code) != visit.Length || strings.Trim(c.Code, "0123456789") != "" {
		t.Fatalf("code %q: want %d digits", c.Code, visit.Length)
	}
	if want := f.clk.Now().Add(visit.CodeTTL); !c.ExpiresAt.Equal(want) {
		t.Errorf("code expires %v, want %v", c.ExpiresAt, want)
	}
	// The code is one person's: bob's visit does not open with it.
	if _, err := f.a.Redeem(ctx, operator("op-1"), "bob", c.Code); code(t, err) != "visit_code_absent" {
		t.Fatalf("alice's code for bob: %v", err)
	}
	v, err := f.b.Redeem(ctx, operator("op-1"), "alice", c.Code)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clk.Now().Add(visit.VisitTTL); !v.Until.Equal(want) || v.Position == 0 {
		t.Errorf("visit %+v, want until %v and a position", v, want)
	}
	// Either node sees it: the stream, not the node's memory, holds it.
	if !f.open(t, f.a, "op-1", "alice") || !f.open(t, f.b, "op-1", "alice") {
		t.Fatal("the visit is not open")
	}
	if f.open(t, f.a, "op-2", "alice") || f.open(t, f.a, "op-1", "bob") {
		t.Fatal("the visit opened for another operator or another applicant")
	}
	// The code was used up.
	if _, err := f.a.Redeem(ctx, operator("op-2"), "alice", c.Code); code(t, err) != "visit_code_absent" {
		t.Fatalf("a used code again: %v", err)
	}
	// The visit ends on its own.
	f.clk.Advance(visit.VisitTTL)
	if f.open(t, f.a, "op-1", "alice") || f.open(t, f.b, "op-1", "alice") {
		t.Fatal("the visit outlived its end")
	}
	// The stream records who opened it, for whom.
	recs, err := f.store.Load(ctx, schema.VisitStream("alice"))
	if err != nil {
		t.Fatal(err)
	}
	var opened *eventstore.Recorded
	for i := range recs {
		if recs[i].Envelope.Type == schema.TypeVisitOpened {
			opened = &recs[i]
		}
		if strings.Contains(string(recs[i].Data), c.Code) {
			t.Errorf("%s holds the code itself: %s", recs[i].Envelope.Type, recs[i].Data)
		}
	}
	if opened == nil || opened.Envelope.Actor.ID != "op-1" || opened.Envelope.OnBehalfOf != "alice" {
		t.Fatalf("VisitOpened envelope: %+v", opened)
	}
}

func TestWrongCodesVoidTheCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, "alice")
	wrong := otherThan(c.Code, "000000")
	for i := 1; i < visit.MaxWrong; i++ {
		// Alternate nodes: the count is the stream's, not a node's.
		s := []*visit.Service{f.a, f.b}[i%2]
		_, err := s.Redeem(ctx, operator("op-1"), "alice", wrong)
		if got := code(t, err); got != "visit_code_wrong" {
			t.Fatalf("wrong try %d: %s", i, got)
		}
		e, _ := cmderr.As(err)
		if want := "Осталось попыток: " + string(rune('0'+visit.MaxWrong-i)); !strings.Contains(e.Message.RU, want) {
			t.Errorf("try %d: %q does not say %q", i, e.Message.RU, want)
		}
	}
	if _, err := f.a.Redeem(ctx, operator("op-2"), "alice", wrong); code(t, err) != "visit_code_voided" {
		t.Fatalf("the last wrong try: %v", err)
	}
	// Now even the right code is refused: guessing cannot go on.
	if _, err := f.b.Redeem(ctx, operator("op-1"), "alice", c.Code); code(t, err) != "visit_code_voided" {
		t.Fatalf("the right code after it was voided: %v", err)
	}
	// A new code starts afresh.
	c2 := f.issue(t, "alice")
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", c2.Code); err != nil {
		t.Fatalf("a new code: %v", err)
	}
}

func TestCodesExpireAndTheNewestFewStayGood(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	issue := func() visit.Code { return f.issue(t, "alice") }
	c1 := issue()
	f.clk.Advance(visit.CodeTTL)
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", c1.Code); code(t, err) != "visit_code_absent" {
		t.Fatalf("an expired code: %v", err)
	}
	// The page reloaded, the button pressed again: the code the
	// operator is typing stays good beside the newer ones, up to MaxLive.
	var codes []visit.Code
	for range visit.MaxLive + 1 {
		codes = append(codes, issue())
	}
	oldest := codes[0]
	if slices.ContainsFunc(codes[1:], func(c visit.Code) bool { return c.Code == oldest.Code }) {
		t.Skip("two of the codes drawn are equal; the oldest one cannot be told apart")
	}
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", oldest.Code); code(t, err) != "visit_code_wrong" {
		t.Fatalf("a code older than the newest %d: %v", visit.MaxLive, err)
	}
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", codes[1].Code); err != nil {
		t.Fatalf("a code among the newest %d: %v", visit.MaxLive, err)
	}
	// One visit uses them all up.
	if _, err := f.a.Redeem(ctx, operator("op-2"), "alice", codes[len(codes)-1].Code); code(t, err) != "visit_code_absent" {
		t.Fatalf("another live code after a visit opened: %v", err)
	}
}

// The same form sent twice is the visit already open, not a refusal.
func TestRedeemingTwiceIsTheOpenVisit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, "alice")
	v1, err := f.a.Redeem(ctx, operator("op-1"), "alice", c.Code)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	v2, err := f.b.Redeem(ctx, operator("op-1"), "alice", c.Code)
	if err != nil || !v2.Until.Equal(v1.Until) {
		t.Fatalf("the same code again by the same operator: %+v %v, want the visit until %v", v2, err, v1.Until)
	}
	// Its position is one a read can wait for: the opening's (QA: 0,
	// which waits for nothing).
	if v2.Position != v1.Position || v1.Position == 0 {
		t.Fatalf("the repeat answered position %d, the opening %d", v2.Position, v1.Position)
	}
	// Another operator gets no such answer.
	if _, err := f.b.Redeem(ctx, operator("op-2"), "alice", c.Code); code(t, err) != "visit_code_absent" {
		t.Fatalf("the used code by another operator: %v", err)
	}
}

func TestClosingAVisit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	openFor := func(op string) {
		t.Helper()
		c := f.issue(t, "alice")
		if _, err := f.a.Redeem(ctx, operator(op), "alice", c.Code); err != nil {
			t.Fatal(err)
		}
	}
	openFor("op-1")
	openFor("op-2")
	// Node b has seen both open: its memory must not outlive a close.
	if !f.open(t, f.b, "op-1", "alice") || !f.open(t, f.b, "op-2", "alice") {
		t.Fatal("visits not open")
	}
	// An operator ends their own visit only.
	if pos, err := f.b.Close(ctx, operator("op-1"), "alice"); err != nil || pos == 0 {
		t.Fatalf("close op-1: %v %v", pos, err)
	}
	if f.open(t, f.b, "op-1", "alice") || !f.open(t, f.b, "op-2", "alice") {
		t.Fatal("op-1's close did not end only op-1's visit")
	}
	if pos, err := f.b.Close(ctx, operator("op-1"), "alice"); err != nil || pos != 0 {
		t.Fatalf("closing a closed visit again: %v %v", pos, err)
	}
	// The applicant ends every visit, and an unused code with them.
	c := f.issue(t, "alice")
	if pos, err := f.b.Close(ctx, applicant("alice"), "alice"); err != nil || pos == 0 {
		t.Fatalf("the applicant's close: %v %v", pos, err)
	}
	if f.open(t, f.b, "op-2", "alice") {
		t.Fatal("op-2's visit outlived the applicant's close on the same node")
	}
	if _, err := f.a.Redeem(ctx, operator("op-3"), "alice", c.Code); code(t, err) != "visit_code_absent" {
		t.Fatalf("a code after the applicant closed visits: %v", err)
	}
}

// Codes and visits that ran out are closed already: the applicant's
// close finds nothing to close and records nothing, rather than telling
// them (and their inbox) that it closed access (QA).
func TestClosingWhatRanOutClosesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.issue(t, "alice")
	f.clk.Advance(visit.CodeTTL)
	if pos, err := f.a.Close(ctx, applicant("alice"), "alice"); err != nil || pos != 0 {
		t.Fatalf("closing with only an expired code: %v %v", pos, err)
	}
	c := f.issue(t, "alice")
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", c.Code); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(visit.VisitTTL)
	if pos, err := f.a.Close(ctx, applicant("alice"), "alice"); err != nil || pos != 0 {
		t.Fatalf("closing with only an ended visit: %v %v", pos, err)
	}
	// A live one still counts.
	f.issue(t, "alice")
	if pos, err := f.a.Close(ctx, applicant("alice"), "alice"); err != nil || pos == 0 {
		t.Fatalf("closing with a live code: %v %v", pos, err)
	}
}

// A node that found a visit open takes it for open a little longer
// without reading the store; a close recorded by another node reaches it
// within OpenCacheTTL.
func TestAnotherNodesCloseReachesWithinTheCacheTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, "alice")
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", c.Code); err != nil {
		t.Fatal(err)
	}
	if !f.open(t, f.b, "op-1", "alice") {
		t.Fatal("not open")
	}
	if _, err := f.a.Close(ctx, applicant("alice"), "alice"); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(visit.DefaultOpenCacheTTL)
	if f.open(t, f.b, "op-1", "alice") {
		t.Fatal("node b still takes the visit for open past its cache TTL")
	}
}

// Two operators typing codes at once: every try that got a verdict is
// recorded, however they interleave, so no more than MaxWrong verdicts
// are ever given on one code. A try that lost every round to the others
// gets a 503 and no verdict, which tells the guesser nothing.
func TestConcurrentWrongTriesAllCount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, "alice")
	wrong := otherThan(c.Code, "999999")
	const tries = 2 * visit.MaxWrong
	codes := make([]string, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			s := []*visit.Service{f.a, f.b}[i%2]
			_, err := s.Redeem(ctx, operator("op"), "alice", wrong)
			if e, ok := cmderr.As(err); ok {
				codes[i] = e.Code
			}
		})
	}
	wg.Wait()
	verdicts := 0
	for _, code := range codes {
		switch code {
		case "visit_code_wrong", "visit_code_voided":
			verdicts++
		case "contention":
		default:
			t.Errorf("a wrong try answered %q", code)
		}
	}
	recs, err := f.store.Load(ctx, schema.VisitStream("alice"))
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, r := range recs {
		if r.Envelope.Type == schema.TypeVisitCodeRefused {
			refused++
		}
	}
	if refused > visit.MaxWrong {
		t.Fatalf("%d wrong tries recorded on one code, at most %d may be", refused, visit.MaxWrong)
	}
	// Every wrong verdict on a live code was recorded; those after the
	// code was voided needed no record.
	if got := min(verdicts, visit.MaxWrong); refused != got {
		t.Fatalf("%d wrong verdicts given (%v), %d recorded", verdicts, codes, refused)
	}
	_, err = f.a.Redeem(ctx, operator("op"), "alice", c.Code)
	switch {
	case refused == visit.MaxWrong && code(t, err) != "visit_code_voided":
		t.Fatalf("after %d recorded wrong tries the right code: %v", refused, err)
	case refused < visit.MaxWrong && err != nil:
		t.Fatalf("after %d recorded wrong tries the right code: %v", refused, err)
	}
}

// The wrong tries count against the codes live together: taking a new
// code while an older one is live gives the older one no fresh tries
// (QA: one code took 12 wrong tries over two re-issues).
func TestANewCodeGivesLiveOnesNoNewTries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c1 := f.issue(t, "alice")
	wrong := otherThan(c1.Code, "000000")
	for range visit.MaxWrong - 1 {
		if _, err := f.a.Redeem(ctx, operator("op"), "alice", wrong); code(t, err) != "visit_code_wrong" {
			t.Fatal(err)
		}
	}
	c2 := f.issue(t, "alice")
	if c2.Code == wrong {
		t.Skip("the new code drawn is the wrong one typed")
	}
	if _, err := f.a.Redeem(ctx, operator("op"), "alice", wrong); code(t, err) != "visit_code_voided" {
		t.Fatalf("the fifth wrong try with two codes live: %v", err)
	}
	if _, err := f.a.Redeem(ctx, operator("op"), "alice", c1.Code); code(t, err) != "visit_code_voided" {
		t.Fatalf("the first code after five wrong tries: %v", err)
	}
}

// Only the code a visit was opened with, sent again by its operator, is
// taken for the same form sent twice; anything else is judged as usual
// (QA: any code answered the open visit, and the real re-send after the
// applicant took a new code cost a try).
func TestTheReSendShortcutIsTheOpeningCodeOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.issue(t, "alice")
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", c.Code); err != nil {
		t.Fatal(err)
	}
	other := otherThan(c.Code, "123456")
	if _, err := f.a.Redeem(ctx, operator("op-1"), "alice", other); code(t, err) != "visit_code_absent" {
		t.Fatalf("another code while the visit is open: %v", err)
	}
	// The applicant takes a new code (for someone else, say); the
	// operator's form sent again is still the open visit, and no try.
	f.issue(t, "alice")
	if _, err := f.b.Redeem(ctx, operator("op-1"), "alice", c.Code); err != nil {
		t.Fatalf("the opening code sent again beside a new live code: %v", err)
	}
	recs, err := f.store.Load(ctx, schema.VisitStream("alice"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Envelope.Type == schema.TypeVisitCodeRefused {
			t.Fatal("the re-sent form was recorded as a wrong try")
		}
	}
}
