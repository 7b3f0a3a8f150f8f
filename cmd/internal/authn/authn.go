// Package authn authenticates HTTP callers of omsd. In production an OIDC
// issuer is configured and bearer tokens are its JWTs (oidc.go). In dev mode
// (no issuer) it signs and verifies short-lived JWTs with an Ed25519 key
// kept in the data directory, so `omsctl token` and omsd agree without any
// setup. In both modes browser sessions are omsd's own JWTs signed with that
// key (session.go). The middleware turns a verified token into the
// events.Metadata that command and query handlers read from the request
// context.
package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/omsonline/oms/cmd/internal/logging"
	"github.com/omsonline/oms/command/cmderr"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/events"
)

const (
	devKeyFile = "dev-jwt-ed25519.pem"
	// DevIssuer and Audience are the claims dev tokens carry.
	DevIssuer = "oms-dev"
	Audience  = "oms"
)

// Roles a token may carry.
var Roles = []string{events.RoleApplicant, events.RoleReviewer, events.RoleAuditor, events.RoleOperator, events.RoleAdmin}

// DevKey loads the dev signing key from dataDir, creating it on first use.
func DevKey(dataDir string) (ed25519.PrivateKey, error) {
	priv, err := LoadDevKey(dataDir)
	if !errors.Is(err, os.ErrNotExist) {
		return priv, err
	}
	_, priv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authn: generate dev key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("authn: encode dev key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("authn: create data dir: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// O_EXCL: two processes starting at once must end up with one key.
	f, err := os.OpenFile(filepath.Join(dataDir, devKeyFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return DevKey(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("authn: write dev key: %w", err)
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("authn: write dev key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("authn: write dev key: %w", err)
	}
	return priv, nil
}

// LoadDevKey loads the dev signing key omsd keeps in dataDir, and never
// makes one: a tool signing tokens for an omsd needs that omsd's key, and
// a key of its own would sign tokens omsd refuses. A missing key is an
// error that wraps os.ErrNotExist.
func LoadDevKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, devKeyFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authn: read dev key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("authn: %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("authn: parse dev key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("authn: %s is not an Ed25519 key", path)
	}
	return priv, nil
}

// Claims are the token claims omsd reads.
type Claims struct {
	Role string `json:"role"`
	// CSRF is set only in browser-session tokens: the anti-forgery token a
	// page must echo on state-changing requests (see session.go).
	CSRF string `json:"csrf,omitempty"`
	jwt.RegisteredClaims
}

// IssueDev signs a dev token.
func IssueDev(key ed25519.PrivateKey, subject, role string, ttl time.Duration) (string, error) {
	return issue(key, subject, role, "", ttl)
}

func issue(key ed25519.PrivateKey, subject, role, csrf string, ttl time.Duration) (string, error) {
	if !slices.Contains(Roles, role) {
		return "", fmt.Errorf("authn: unknown role %q (want one of %s)", role, strings.Join(Roles, ", "))
	}
	if !validSubject(subject) {
		return "", fmt.Errorf("authn: subject %q: want 1 to %d visible ASCII characters, no spaces", subject, maxSubject)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("authn: lifetime %s: a token must live a positive time", ttl)
	}
	now := time.Now()
	c := Claims{Role: role, CSRF: csrf, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: DevIssuer, Subject: subject, Audience: jwt.ClaimStrings{Audience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: uuid.NewString(),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
}

// Verifier checks bearer tokens and browser sessions, in dev mode or, made
// by NewOIDCVerifier, against an OIDC issuer.
type Verifier struct {
	// pub checks omsd's own tokens: sessions, and in dev mode bearer
	// tokens too; key signs sessions started from OIDC tokens.
	pub  ed25519.PublicKey
	key  ed25519.PrivateKey
	oidc *oidcVerifier // nil in dev mode
	seen verifiedCache
	// Sign-outs (see revoke.go).
	revs  Revocations
	log   *slog.Logger
	ended endedSet
}

// verifiedCache remembers tokens omsd signed itself (dev tokens, browser
// sessions) that verified, for at most VerifiedTTL and never past their
// expiry: a client sends the same token with every request, and checking
// its signature again each time was a twentieth of the node's CPU under
// load.
type verifiedCache struct {
	mu sync.Mutex
	m  map[string]verified
}

type verified struct {
	actor events.Actor
	// csrf and id are a session's (see Claims.CSRF); empty for a dev token.
	csrf, id string
	until    time.Time
}

// VerifiedTTL bounds how long a verified bearer token is trusted without
// checking its signature again.
const VerifiedTTL = 30 * time.Second

// maxVerified bounds the cache; past it the cache starts over.
const maxVerified = 50_000

func (c *verifiedCache) get(token string, now time.Time) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[token]
	if !ok || !now.Before(v.until) {
		return verified{}, false
	}
	return v, true
}

func (c *verifiedCache) put(token string, v verified) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = make(map[string]verified, 1024)
	}
	c.m[token] = v
}

func (c *verifiedCache) drop(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, token)
}

// NewDevVerifier verifies tokens signed by IssueDev with key.
func NewDevVerifier(key ed25519.PrivateKey) *Verifier {
	return &Verifier{pub: key.Public().(ed25519.PublicKey), key: key}
}

// Verify parses and checks a bearer token: signature, issuer, audience,
// expiry, role. With an OIDC issuer it accepts the issuer's tokens and
// omsd's own session tokens (the pages forward the session as a bearer
// token when they call the API in-process), never dev tokens.
func (v *Verifier) Verify(token string) (events.Actor, error) {
	e, err := v.own(token)
	if err == nil {
		return e.actor, nil
	}
	if v.oidc == nil || errors.Is(err, ErrDevToken) || errors.Is(err, ErrSessionEnded) {
		return events.Actor{}, err
	}
	return v.oidc.verify(token)
}

// own checks a token omsd signed itself (a dev token or a session), from
// the cache when it can, and a session against the sign-outs.
func (v *Verifier) own(token string) (verified, error) {
	now := time.Now()
	if e, ok := v.seen.get(token, now); ok {
		if e.csrf != "" && v.ended.has(e.id, now) {
			return verified{}, ErrSessionEnded
		}
		return e, nil
	}
	c, err := v.claims(token)
	if err != nil {
		return verified{}, err
	}
	if c.CSRF != "" {
		if err := v.sessionLive(c.ID); err != nil {
			return verified{}, err
		}
	}
	// omsd's own key never rotates under a running node, so a token it
	// signed stays good until it expires (or, a session, is signed out).
	// An issuer's tokens are not cached: a key it withdraws must stop
	// working at the next fetch of its key set.
	e := verified{actor: events.Actor{ID: c.Subject, Role: c.Role}, csrf: c.CSRF, id: c.ID, until: now.Add(VerifiedTTL)}
	if c.ExpiresAt != nil && c.ExpiresAt.Time.Before(e.until) {
		e.until = c.ExpiresAt.Time
	}
	// A copy: Fiber hands out header and cookie strings whose bytes it
	// reuses for the next request, and a map key must never change under
	// the map (another caller's token would find this actor).
	v.seen.put(strings.Clone(token), e)
	return e, nil
}

// claims checks a token omsd signed itself.
func (v *Verifier) claims(token string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.pub, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(DevIssuer), jwt.WithAudience(Audience), jwt.WithExpirationRequired())
	if err != nil {
		return Claims{}, fmt.Errorf("authn: %w", err)
	}
	// A token "issued" in the future was not made by a node's clock (they
	// agree within ClockSkew). The check is here, not as the parser's
	// leeway, which would stretch every expiry by as much.
	if c.IssuedAt != nil && c.IssuedAt.After(time.Now().Add(ClockSkew)) {
		return Claims{}, errors.New("authn: token issued in the future")
	}
	if !slices.Contains(Roles, c.Role) || !validSubject(c.Subject) {
		// The same subject rule as an issuer's tokens: one made with the
		// key by other means must not name an actor the pages and logs
		// cannot show ("   ").
		return Claims{}, errors.New("authn: token lacks a known role or a valid subject")
	}
	// Only sessions carry a CSRF claim; with an issuer configured, a token
	// of omsd's key without one was made by `omsctl token` or by someone
	// holding the key file, and production has no such callers.
	if v.oidc != nil && c.CSRF == "" {
		return Claims{}, ErrDevToken
	}
	return c, nil
}

// BearerToken takes the token out of an Authorization header. The scheme's
// name is case-insensitive (RFC 9110 §11.1), so "bearer" and "BEARER"
// clients are served too.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// Middleware authenticates /api requests, by a bearer token or else by the
// browser's session cookie. A missing or bad credential is 401 with a
// bilingual problem body; a cookie-authenticated request that changes state
// without the session's CSRF token is 403; a good one becomes
// events.Metadata in the request's user context.
func (v *Verifier) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		var actor events.Actor
		if token, ok := BearerToken(h); ok {
			var err error
			actor, err = v.Verify(strings.TrimSpace(token))
			if err != nil {
				return refuseToken(c, err)
			}
		} else if cookie := c.Cookies(SessionCookie); cookie != "" {
			e, err := v.own(cookie)
			if errors.Is(err, ErrSessionEnded) {
				return sessionEnded(c)
			}
			if err != nil {
				return unauthorized(c, "session_expired", "Сессия истекла. Войдите снова.", "The session has expired. Sign in again.")
			}
			if !SafeMethod(c.Method()) && !csrfMatches(e.csrf, c.Get(CSRFHeader)) {
				return csrfRefused(c)
			}
			actor = e.actor
		} else {
			return unauthorized(c, "sign_in_required", "Требуется вход в систему.", "Sign-in required.")
		}
		// A client's own flow id is kept as it is when it is a sane token
		// (gateways send their own forms), a UUID in its canonical form;
		// anything else is refused, not swapped for a new id without a
		// word, which lost the client's thread.
		corr := strings.TrimSpace(c.Get("X-Correlation-ID"))
		switch u, err := uuid.Parse(corr); {
		case corr == "":
			corr = uuid.NewString()
		case err == nil:
			corr = u.String()
		case logging.ValidID(corr):
			corr = strings.Clone(corr) // fasthttp reuses header memory
		default:
			return commandapi.ErrorHandler(c, cmderr.New(cmderr.BadRequest, "bad_correlation_id", cmderr.T(
				"Заголовок X-Correlation-ID — UUID или другой идентификатор до 128 знаков из латинских букв, цифр и «-_.:»; без заголовка идентификатор создаётся сам.",
				"The X-Correlation-ID header is a UUID or another id of up to 128 Latin letters, digits and \"-_.:\"; without the header one is generated.")))
		}
		c.Set("X-Correlation-ID", corr)
		// The request is what causes the events it appends, so its id is
		// their causation id: projections log it, and a log search for one
		// request finds the read-model updates it made.
		cause := logging.RequestID(c.UserContext())
		if cause == "" {
			cause = corr
		}
		md := events.Metadata{Actor: actor, CorrelationID: corr, CausationID: cause}
		if actor.Role == events.RoleOperator {
			// A copy: the metadata outlives the request (events, the key
			// cache), and Fiber's string is fasthttp's header buffer, which
			// the next request overwrites.
			md.OnBehalfOf = strings.Clone(c.Get("X-On-Behalf-Of"))
		}
		c.SetUserContext(events.WithMetadata(c.UserContext(), md))
		return c.Next()
	}
}

// refuseToken answers a bearer token that did not verify: 403 when the
// token is good but names no single role of the service (the caller should
// ask for a role, not sign in again), 401 otherwise.
func refuseToken(c *fiber.Ctx, err error) error {
	var amb *AmbiguousRoleError
	switch {
	case errors.As(err, &amb):
		roles := strings.Join(amb.Roles, ", ")
		return forbidden(c, "ambiguous_role",
			"У вашей учётной записи несколько ролей в «ОМС онлайн» ("+roles+"), а допускается одна. Попросите администратора оставить одну роль или завести отдельную учётную запись для каждой.",
			"Your account has several roles in «ОМС онлайн» ("+roles+"); exactly one is allowed. Ask your administrator to keep one, or to give you an account per role.")
	case errors.Is(err, ErrNoRole):
		return forbidden(c, "no_role",
			"У вашей учётной записи нет роли в «ОМС онлайн» (заявитель, оператор, проверяющий, аудитор или администратор). Обратитесь к администратору.",
			"Your account has no role in «ОМС онлайн» (applicant, operator, reviewer, auditor or admin). Ask your administrator for one.")
	case errors.Is(err, ErrDevToken):
		return unauthorized(c, "dev_token_refused", "Тестовые токены (omsctl token) здесь не принимаются: войдите через поставщика учётных записей.",
			"Dev tokens (omsctl token) are not accepted here: sign in with the identity provider.")
	case errors.Is(err, ErrSessionEnded):
		return sessionEnded(c)
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized(c, "token_expired", "Срок действия токена истёк. Получите новый.", "The token has expired. Get a new one.")
	}
	return unauthorized(c, "token_invalid", "Токен недействителен или истёк.", "The token is invalid or expired.")
}

// forbidden and unauthorized answer with the API's problem document (code,
// bilingual title and detail), written here rather than returned: the
// access log and the metrics record the status of what was written.
func forbidden(c *fiber.Ctx, code, ru, en string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return commandapi.ErrorHandler(c, cmderr.New(cmderr.Forbidden, code, cmderr.T(ru, en)))
}

func sessionEnded(c *fiber.Ctx) error {
	return unauthorized(c, "session_ended", "Вы вышли из этой сессии. Войдите снова.", "This session was signed out. Sign in again.")
}

func unauthorized(c *fiber.Ctx, code, ru, en string) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="oms"`)
	return commandapi.ErrorHandler(c, cmderr.New(cmderr.Unauthenticated, code, cmderr.T(ru, en)))
}
