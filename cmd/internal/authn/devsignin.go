package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/omsonline/oms/command/application"
)

// DevSignIn plays the seed's sign-in (a phone number, then a one-time code
// sent by SMS) without an SMS gateway: the code goes to omsd's log. It
// exists only in dev mode; with a real issuer the browser signs in there
// and comes back with a token.
type DevSignIn struct {
	key ed25519.PrivateKey
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	codes map[string]*otp
}

type otp struct {
	hash     [32]byte
	expires  time.Time
	attempts int
}

// One-time code rules: short-lived, few guesses, as an SMS code would be.
const (
	codeTTL     = 5 * time.Minute
	maxAttempts = 5
	maxPending  = 10000
)

// Sign-in refusals.
var (
	ErrBadPhone        = errors.New("authn: not a phone number in international format")
	ErrBadRole         = errors.New("authn: unknown role")
	ErrNoCode          = errors.New("authn: no code was requested for this number, or it has expired")
	ErrWrongCode       = errors.New("authn: wrong code")
	ErrTooManyAttempts = errors.New("authn: too many wrong codes; request a new one")
)

// NewDevSignIn signs sessions with the dev key.
func NewDevSignIn(key ed25519.PrivateKey, log *slog.Logger) *DevSignIn {
	if log == nil {
		log = slog.Default()
	}
	return &DevSignIn{key: key, log: log, now: time.Now, codes: map[string]*otp{}}
}

// NormalizePhone brings a typed phone number to E.164 ("+79161234567"),
// accepting the spaces, dashes and brackets people type, and a Russian
// number the way it is written at home: 8 or 7 and ten digits, or the ten
// digits of a mobile number alone. Any other number needs its "+".
func NormalizePhone(s string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", false
		}
	}
	// The home forms the application form takes, and a mobile's ten
	// digits alone: signing in, the number is the person's own Russian one.
	p := application.HomePhone(b.String())
	if len(p) == 10 && p[0] == '9' {
		p = "+7" + p
	}
	if !strings.HasPrefix(p, "+") || len(p) < 8 || len(p) > 16 || p[1] == '0' {
		return "", false
	}
	return p, true
}

// devNamespace makes dev subject ids stable per phone and role.
var devNamespace = uuid.MustParse("6f1c2b0e-8d55-4c7a-9a55-0e3b9c1d2f40")

// DevSubject is the subject id a phone number signs in as. It is opaque, so
// the phone number (personal data) never becomes an actor id in events.
func DevSubject(role, phone string) string {
	return uuid.NewSHA1(devNamespace, []byte(role+":"+phone)).String()
}

func mask(phone string) string {
	if len(phone) < 8 {
		return "***"
	}
	return phone[:5] + strings.Repeat("*", len(phone)-7) + phone[len(phone)-2:]
}

// Start issues a one-time code for a phone number and role and logs it.
func (d *DevSignIn) Start(phone, role string) error {
	p, ok := NormalizePhone(phone)
	if !ok {
		return ErrBadPhone
	}
	if !slices.Contains(Roles, role) {
		return ErrBadRole
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return fmt.Errorf("authn: one-time code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	d.mu.Lock()
	now := d.now()
	if len(d.codes) >= maxPending {
		for k, o := range d.codes {
			if now.After(o.expires) {
				delete(d.codes, k)
			}
		}
	}
	d.codes[role+":"+p] = &otp{hash: sha256.Sum256([]byte(code)), expires: now.Add(codeTTL)}
	d.mu.Unlock()
	// WARN so that it shows at the default log level: in dev mode this log
	// line is the SMS.
	d.log.Warn("dev sign-in: one-time code (dev mode only; production sends it by SMS)", "phone", mask(p), "role", role, "code", code)
	return nil
}

// Verify checks a code and, if it is right, signs a session for the
// phone's subject. A code works once.
func (d *DevSignIn) Verify(phone, role, code string) (subject, token, csrf string, err error) {
	p, ok := NormalizePhone(phone)
	if !ok {
		return "", "", "", ErrBadPhone
	}
	k := role + ":" + p
	d.mu.Lock()
	o, ok := d.codes[k]
	switch {
	case !ok || d.now().After(o.expires):
		delete(d.codes, k)
		d.mu.Unlock()
		return "", "", "", ErrNoCode
	case o.attempts >= maxAttempts:
		d.mu.Unlock()
		return "", "", "", ErrTooManyAttempts
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(code)))
	if subtle.ConstantTimeCompare(h[:], o.hash[:]) != 1 {
		o.attempts++
		d.mu.Unlock()
		return "", "", "", ErrWrongCode
	}
	delete(d.codes, k)
	d.mu.Unlock()
	subject = DevSubject(role, p)
	token, csrf, err = IssueSession(d.key, subject, role, SessionTTL)
	return subject, token, csrf, err
}
