// Package visit decides who of the МФЦ operators may act for an applicant
// and until when. An operator acts for an applicant only during a visit:
// the applicant takes a one-time code from their cabinet and shows it to
// the operator, the operator types it, and for the next hours that
// operator, and no other, may act for them. Before this an operator could
// act for anyone by typing their id.
//
// The package holds the decisions (Decide* over a State folded by
// Evolve) and a thin Service that runs them against the event store.
package visit

import (
	"fmt"
	"slices"
	"time"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// The bounds of a visit.
const (
	// CodeTTL is how long a code stays good: long enough to walk to the
	// window, short enough that a code seen over a shoulder soon is not.
	CodeTTL = 15 * time.Minute
	// Length is the digits of a code: typed by the operator from the
	// applicant's phone, so short; MaxWrong keeps it unguessable.
	Length = 6
	// MaxWrong wrong codes void the code: one in 200,000 to guess it.
	MaxWrong = 5
	// VisitTTL bounds a visit: an operator's working session at the
	// window, after which a new code is asked for.
	VisitTTL = 4 * time.Hour
)

// MaxLive is how many codes, the newest, stay good at once. An applicant
// who reloads the code page, or presses the button again while the
// operator is already typing, gets a new code: the one the operator has
// must not turn into a wrong try.
const MaxLive = 3

// LiveCode is a code given and not yet used, by its keyed digest.
type LiveCode struct {
	Digest string
	Expiry time.Time
}

// State is one applicant's visits as the stream says at a moment.
type State struct {
	// Revision is the stream's last revision; Exists is false for no
	// stream yet.
	Revision uint64
	Exists   bool
	// Position is the $all position of the stream's last event: what a
	// reader passes as ?after= to see the state.
	Position uint64
	// Codes are the codes given since the last visit opened or closed,
	// the newest last, at most MaxLive.
	Codes []LiveCode
	// Wrong counts the wrong tries since the last code was given; at
	// MaxWrong the codes are void (Voided) until a new one is given.
	Wrong  int
	Voided bool
	// Visits are the operators' open visits.
	Visits map[string]Visiting
}

// Visiting is one operator's open visit: its end and the code it was
// opened with.
type Visiting struct {
	Until time.Time
	Code  LiveCode
}

// Evolve folds one event of the stream into the state.
func Evolve(s State, e schema.Event) State {
	switch e := e.(type) {
	case schema.VisitCodeIssued:
		// The wrong tries count against the codes live together: a new
		// code beside live ones does not give the old ones new tries.
		if len(s.live(e.IssuedAt)) == 0 {
			s.Wrong = 0
		}
		codes := append(slices.Clone(s.Codes), LiveCode{Digest: e.CodeDigest, Expiry: e.ExpiresAt})
		s.Codes, s.Voided = codes[max(0, len(codes)-MaxLive):], false
	case schema.VisitCodeRefused:
		s.Wrong++
		if s.Wrong >= MaxWrong {
			s.Codes, s.Voided = nil, true
		}
	case schema.VisitOpened:
		s.Codes, s.Wrong = nil, 0
		s.Visits = cloneVisits(s.Visits)
		s.Visits[e.OperatorID] = Visiting{Until: e.Until, Code: LiveCode{Digest: e.CodeDigest, Expiry: e.CodeExpiresAt}}
	case schema.VisitClosed:
		s.Visits = cloneVisits(s.Visits)
		if e.OperatorID == "" {
			s.Codes, s.Wrong = nil, 0
			clear(s.Visits)
		} else {
			delete(s.Visits, e.OperatorID)
		}
	}
	return s
}

// cloneVisits keeps a State a value: folding on from one state never
// changes another's map.
func cloneVisits(m map[string]Visiting) map[string]Visiting {
	out := make(map[string]Visiting, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Open reports until when operator may act for the applicant at now.
func (s State) Open(now time.Time, operator string) (time.Time, bool) {
	v, ok := s.Visits[operator]
	return v.Until, ok && now.Before(v.Until)
}

// anyOpen reports whether some operator may act for the applicant at now.
func (s State) anyOpen(now time.Time) bool {
	for _, v := range s.Visits {
		if now.Before(v.Until) {
			return true
		}
	}
	return false
}

// live is the codes that may still be used at now.
func (s State) live(now time.Time) []LiveCode {
	var out []LiveCode
	for _, c := range s.Codes {
		if now.Before(c.Expiry) {
			out = append(out, c)
		}
	}
	return out
}

// DecideIssue gives the applicant a new code, whose keyed digest is
// digest. The codes given before it stay good (MaxLive).
func DecideIssue(now time.Time, digest string) schema.VisitCodeIssued {
	return schema.VisitCodeIssued{CodeDigest: digest, IssuedAt: now.UTC(), ExpiresAt: now.Add(CodeTTL).UTC()}
}

// DecideRedeem opens operator's visit when the code typed is one of the
// live codes: matches says whether it is the code of a digest and expiry.
// A wrong code is recorded (VisitCodeRefused) and refused; with no live
// code, or void ones, nothing is recorded.
func DecideRedeem(s State, now time.Time, operator string, matches func(LiveCode) bool) (schema.Event, error) {
	live := s.live(now)
	if len(live) == 0 {
		if s.Voided {
			return nil, ErrVoided()
		}
		return nil, ErrNoCode()
	}
	i := slices.IndexFunc(live, matches)
	if i < 0 {
		left := MaxWrong - s.Wrong - 1
		return schema.VisitCodeRefused{OperatorID: operator, RefusedAt: now.UTC()}, ErrWrongCode(left)
	}
	return schema.VisitOpened{OperatorID: operator, OpenedAt: now.UTC(), Until: now.Add(VisitTTL).UTC(),
		CodeDigest: live[i].Digest, CodeExpiresAt: live[i].Expiry}, nil
}

// DecideClose ends operator's visit, or, with operator empty, every visit
// and the unused code. Nothing to close records nothing: visits and codes
// that ran out are closed already (QA: the applicant was told access had
// been closed, and the inbox said so, when only expired ones were left).
func DecideClose(s State, now time.Time, operator string) (schema.VisitClosed, bool) {
	if operator != "" {
		if _, ok := s.Open(now, operator); !ok {
			return schema.VisitClosed{}, false
		}
	} else if len(s.live(now)) == 0 && !s.anyOpen(now) {
		return schema.VisitClosed{}, false
	}
	return schema.VisitClosed{OperatorID: operator, ClosedAt: now.UTC()}, true
}

// ErrNoCode is an operator's code for an applicant who has no live one.
func ErrNoCode() error {
	return cmderr.New(cmderr.Conflict, "visit_code_absent", cmderr.T(
		"Для этого заявителя нет действующего кода для МФЦ. Проверьте идентификатор (полностью, как в личном кабинете заявителя) или телефон; если они верны, попросите заявителя получить новый код (код действует 15 минут и один раз).",
		"There is no valid MFC code for this applicant. Check the id (in full, as the applicant's account shows it) or the phone; if they are right, ask the applicant to get a new code (a code is good for 15 minutes and once)."))
}

// ErrVoided is a code that too many wrong tries voided.
func ErrVoided() error {
	return cmderr.New(cmderr.Conflict, "visit_code_voided", cmderr.T(
		fmt.Sprintf("Код для МФЦ аннулирован после %d неверных попыток: попросите заявителя получить новый код в личном кабинете.", MaxWrong),
		fmt.Sprintf("The MFC code was voided after %d wrong tries: ask the applicant to get a new code in their account.", MaxWrong)))
}

// ErrWrongCode is a code that is not the applicant's; left tries remain.
func ErrWrongCode(left int) error {
	if left <= 0 {
		return ErrVoided()
	}
	return cmderr.New(cmderr.Forbidden, "visit_code_wrong", cmderr.T(
		fmt.Sprintf("Код не совпадает с кодом заявителя. Осталось попыток: %d.", left),
		fmt.Sprintf("The code is not the applicant's. Tries left: %d.", left)))
}
