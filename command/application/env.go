package application

import (
	"strings"
	"time"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/calendar"
)

// Config holds the product's tunable rules.
type Config struct {
	// PolicyTermMonths is the length of one policy term; 0 means 12.
	PolicyTermMonths int
	// RenewalWindowDays is how many days before ValidTo renewal opens; 0
	// means 30.
	RenewalWindowDays int
	// AutoIssue issues the policy in the same write as the approval.
	AutoIssue bool
	// Location decides which calendar day "today" is; nil means UTC+3.
	Location *time.Location
	// RetentionYears is how long after a policy's last term its record is
	// kept before the applicant's data may be erased; 0 means 5. Set it to
	// what the insurer's records schedule says.
	RetentionYears int
	// AnswerTermDays is how many working days an applicant has to answer
	// an information request; 0 means 10, the review's own term: a
	// refusal for no response right after the question was asked gave
	// the applicant no chance to reply.
	AnswerTermDays int
	// Calendar counts working days; nil means the Russian production
	// calendar (projections/calendar), the one the review's deadline
	// follows.
	Calendar WorkingDays
}

// WorkingDays counts terms in working days by the Civil Code's rules
// (counting starts the next day; see calendar.Calendar.AddWorkingDays).
type WorkingDays interface {
	AddWorkingDays(start time.Time, n int) (time.Time, bool)
}

// msk is Moscow time without tzdata: Moscow has kept UTC+3 since 2014 and
// servers may lack tzdata.
var msk = time.FixedZone("MSK", 3*60*60)

// WithDefaults fills zero values with the defaults.
func (c Config) WithDefaults() Config {
	if c.PolicyTermMonths <= 0 {
		c.PolicyTermMonths = 12
	}
	if c.RenewalWindowDays <= 0 {
		c.RenewalWindowDays = 30
	}
	if c.Location == nil {
		c.Location = msk
	}
	if c.RetentionYears <= 0 {
		c.RetentionYears = 5
	}
	if c.AnswerTermDays <= 0 {
		c.AnswerTermDays = 10
	}
	if c.Calendar == nil {
		c.Calendar = calendar.Default()
	}
	return c
}

// answerBy is the last day to answer a request made at: AnswerTermDays
// working days after the day it was made, in the configured location.
func (c Config) answerBy(at time.Time) time.Time {
	c = c.WithDefaults()
	d, _ := c.Calendar.AddWorkingDays(at.In(c.Location), c.AnswerTermDays)
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
}

// Caller is who issues a command.
type Caller struct {
	ID   string
	Role string
	// OnBehalfOf is the applicant an МФЦ operator acts for.
	OnBehalfOf string
}

// CallerFrom takes the caller from request metadata.
func CallerFrom(m events.Metadata) Caller {
	return Caller{ID: m.Actor.ID, Role: m.Actor.Role, OnBehalfOf: m.OnBehalfOf}
}

// Subject is the applicant the caller is, or acts for: the applicant's own id
// for an applicant, OnBehalfOf for an operator, and "" for everyone else.
func (c Caller) Subject() string {
	switch c.Role {
	case events.RoleApplicant:
		return c.ID
	case events.RoleOperator:
		return c.OnBehalfOf
	}
	return ""
}

// Env is everything a decision depends on besides the state and the
// command. It makes decisions pure: the same Env gives the same events.
type Env struct {
	Now    time.Time
	Caller Caller
	Config Config
	// Documents are the uploads the command references, by document id, as
	// the service found them; a reference missing here is unknown.
	Documents map[string]schema.DocumentUploaded
	// ContentSHA256 holds, by document id, the digest of the bytes
	// uploaded (what the upload answered as sha256) for each reference
	// that sends a sha256 other than its blob's id.
	ContentSHA256 map[string]string
}

// NeedsContentSHA256 reports whether a reference sends a sha256 that only
// the digest of the uploaded bytes can confirm: not the id of the stored
// blob, which the upload record holds.
func NeedsContentSHA256(ref schema.DocumentRef, up schema.DocumentUploaded) bool {
	return ref.SHA256 != "" && !strings.EqualFold(ref.SHA256, up.SHA256)
}

// today is the calendar date of Now in the configured location, as
// midnight UTC so that dates compare and add without zone surprises.
func (e Env) today() time.Time {
	loc := e.Config.WithDefaults().Location
	y, m, d := e.Now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dateLayout is the wire format of calendar dates.
const dateLayout = "2006-01-02"

func formatDate(t time.Time) string { return t.Format(dateLayout) }

// spokenDate is a date as refusals write it for people, in Russian and in
// English: 27.11.2026 and 27 Nov 2026, as the cabinet shows dates.
func spokenDate(t time.Time) (ru, en string) { return t.Format("02.01.2006"), t.Format("2 Jan 2006") }

// spokenDay is spokenDate of a YYYY-MM-DD date; one that does not parse is
// given as it is.
func spokenDay(s string) (ru, en string) {
	t, ok := parseDate(s)
	if !ok {
		return s, s
	}
	return spokenDate(t)
}

// parseDate parses "YYYY-MM-DD" strictly (no time, no zone).
func parseDate(s string) (time.Time, bool) {
	if len(s) != len(dateLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
