package authn

// Production authentication: bearer JWTs from an OpenID Connect issuer.
//
// The issuer's signing keys come from its JWKS (found by discovery, or
// named by OMS_OIDC_JWKS_URL) or from a PEM public key file. The key set is
// kept in memory and fetched again periodically and when a token names a
// key id that is not known yet, which is how an issuer announces a new key.
// That second kind of fetch is rate-limited: anyone can send tokens with
// made-up key ids, and each must not become a request to the issuer.
//
// A token is accepted only with an asymmetric signature (RS256, ES256,
// EdDSA: never "none", never HMAC, whose "secret" could be the public key),
// this issuer, this audience, an expiry, and exactly one role of the
// service in its roles claim.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events"
)

// Defaults of OIDCOptions.
const (
	// DefaultKeyRefresh is how often the key set is fetched again. It bounds
	// how long a key the issuer has withdrawn is still trusted.
	DefaultKeyRefresh = 10 * time.Minute
	// DefaultUnknownKIDRefresh is the least time between two fetches caused
	// by tokens with an unknown key id: a new key is picked up at once, a
	// flood of made-up ids costs the issuer one request a minute.
	DefaultUnknownKIDRefresh = time.Minute
	// ClockSkew is the leeway on exp, nbf and iat between the issuer's
	// clock and ours.
	ClockSkew = 30 * time.Second

	fetchTimeout = 10 * time.Second
	maxDocBytes  = 1 << 20
	maxTokenLen  = 16 << 10
	maxSubject   = events.MaxActorID
)

// Refusals of a verified token that names no usable role. They are 403,
// not 401: the caller is who they say, the service has no part for them.
var (
	ErrNoRole        = errors.New("authn: the token carries no role of this service")
	ErrAmbiguousRole = errors.New("authn: the token carries more than one role of this service")
	// ErrDevToken refuses a dev-mode token (omsctl token) while an OIDC
	// issuer is configured.
	ErrDevToken = errors.New("authn: dev-mode tokens are off: an OIDC issuer is configured")
)

// AmbiguousRoleError names the roles found when there are several.
type AmbiguousRoleError struct{ Roles []string }

func (e *AmbiguousRoleError) Error() string {
	return fmt.Sprintf("%v: %s", ErrAmbiguousRole, strings.Join(e.Roles, ", "))
}

// Is makes errors.Is(err, ErrAmbiguousRole) hold.
func (e *AmbiguousRoleError) Is(target error) bool { return target == ErrAmbiguousRole }

// OIDCOptions configure production authentication.
type OIDCOptions struct {
	// Issuer is the "iss" every token must carry, and where discovery
	// looks for the key set.
	Issuer string
	// Audience must be among the token's "aud".
	Audience string
	// RolesClaim names the claim with the role: a top-level claim name, or
	// a dotted path into nested objects such as "realm_access.roles". A
	// top-level claim spelled exactly so wins over the path, since
	// namespaced claim names ("https://oms.example/roles") contain dots.
	RolesClaim string
	// JWKSURL is the key set; empty asks discovery.
	JWKSURL string
	// PublicKeyFile is a PEM public key used instead of a key set.
	PublicKeyFile string
	// KeyRefresh and UnknownKIDRefresh default to DefaultKeyRefresh and
	// DefaultUnknownKIDRefresh.
	KeyRefresh        time.Duration
	UnknownKIDRefresh time.Duration
	// HTTPClient fetches discovery and the key set; its responses are cut
	// at 1 MiB. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

type oidcVerifier struct {
	issuer, audience string
	rolesClaim       string
	rolesPath        []string
	jwksURL, keyFile string
	keys             jwt.Keyfunc
	parser           *jwt.Parser
	log              *slog.Logger
	stop             context.CancelFunc
}

// NewOIDCVerifier verifies bearer tokens of an OIDC issuer. key is the
// server's own Ed25519 key: browser sessions are still signed by omsd
// (see SessionFromBearer), and tokens it signed without a session's CSRF
// claim, that is dev tokens, are refused. Close stops the key refresh.
func NewOIDCVerifier(ctx context.Context, o OIDCOptions, key ed25519.PrivateKey) (*Verifier, error) {
	if o.Issuer == "" {
		return nil, errors.New("authn: OIDC issuer is empty")
	}
	if o.Audience == "" {
		o.Audience = Audience
	}
	if o.RolesClaim == "" {
		o.RolesClaim = "roles"
	}
	if o.KeyRefresh <= 0 {
		o.KeyRefresh = DefaultKeyRefresh
	}
	if o.UnknownKIDRefresh <= 0 {
		o.UnknownKIDRefresh = DefaultUnknownKIDRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	client = cappedClient(client)

	ov := &oidcVerifier{
		issuer: o.Issuer, audience: o.Audience, rolesClaim: o.RolesClaim,
		rolesPath: strings.Split(o.RolesClaim, "."), keyFile: o.PublicKeyFile, log: o.Logger,
	}
	var methods []string
	if o.PublicKeyFile != "" {
		pub, alg, err := loadPublicKey(o.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		methods = []string{alg}
		ov.keys = func(*jwt.Token) (any, error) { return pub, nil }
		ov.stop = func() {}
	} else {
		ov.jwksURL = o.JWKSURL
		if ov.jwksURL == "" {
			u, err := discover(ctx, client, o.Issuer)
			if err != nil {
				return nil, err
			}
			ov.jwksURL = u
		}
		kctx, stop := context.WithCancel(context.Background())
		kf, err := newKeySet(kctx, client, ov.jwksURL, o)
		if err != nil {
			stop()
			return nil, err
		}
		ov.keys, ov.stop = kf, stop
		methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}
	}
	ov.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(o.Issuer), jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(ClockSkew),
		jwt.WithStrictDecoding(),
	)
	return &Verifier{pub: key.Public().(ed25519.PublicKey), key: key, oidc: ov}, nil
}

// newKeySet builds the cached, refreshed key set of a JWKS URL.
func newKeySet(ctx context.Context, client *http.Client, jwksURL string, o OIDCOptions) (jwt.Keyfunc, error) {
	log := o.Logger
	store, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Client: client, Ctx: ctx, HTTPTimeout: fetchTimeout,
		// The issuer may be down while omsd starts; the key set is fetched
		// again on the first token and every KeyRefresh.
		NoErrorReturnFirstHTTPReq: true,
		RefreshInterval:           o.KeyRefresh,
		RefreshErrorHandler: func(ctx context.Context, err error) {
			log.ErrorContext(ctx, "OIDC key set fetch failed; the keys fetched before stay in use", "jwks", jwksURL, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("authn: OIDC key set %s: %w", jwksURL, err)
	}
	set, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{jwksURL: store},
		// A token whose key id is unknown waits for the limiter only if a
		// fetch is allowed within this time, and otherwise is refused at
		// once, so a flood of made-up ids neither reaches the issuer nor
		// holds requests open.
		RateLimitWaitMax:  fetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDRefresh), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("authn: OIDC key set %s: %w", jwksURL, err)
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx: ctx, Storage: set,
		// Keys published for encryption never verify a signature.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("authn: OIDC key set %s: %w", jwksURL, err)
	}
	return func(t *jwt.Token) (any, error) {
		// Without a key id every published key would be tried; a key set
		// is meant to be addressed by id, and every mainstream issuer
		// sets one.
		if kid, ok := t.Header["kid"].(string); !ok || kid == "" {
			return nil, errors.New("authn: the token names no key (kid)")
		}
		return kf.Keyfunc(t)
	}, nil
}

// keyFor finds the key of a token and checks that it fits the algorithm:
// an RSA key of at least 2048 bits for RS256, P-256 for ES256, Ed25519
// for EdDSA. A header with "crit" asks for extensions this verifier does
// not know, so such a token is refused (RFC 7515, 4.1.11).
func (o *oidcVerifier) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("authn: the token header has critical extensions")
	}
	key, err := o.keys(t)
	if err != nil {
		return nil, err
	}
	alg, _ := t.Header["alg"].(string)
	if !fits(alg, key) {
		return nil, fmt.Errorf("authn: the signing key does not fit %s", alg)
	}
	return key, nil
}

func fits(alg string, key any) bool {
	switch alg {
	case jwt.SigningMethodRS256.Alg():
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= 2048
	case jwt.SigningMethodES256.Alg():
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case jwt.SigningMethodEdDSA.Alg():
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

// verify checks an OIDC token and maps it to an actor.
func (o *oidcVerifier) verify(token string) (events.Actor, error) {
	actor, err := o.check(token)
	if err != nil {
		// Debug: a misconfigured issuer or audience shows here, and a
		// flood of garbage must not flood the log.
		o.log.Debug("OIDC token refused", "err", err)
	}
	return actor, err
}

func (o *oidcVerifier) check(token string) (events.Actor, error) {
	if len(token) > maxTokenLen {
		return events.Actor{}, errors.New("authn: the token is too long")
	}
	claims := jwt.MapClaims{}
	if _, err := o.parser.ParseWithClaims(token, claims, o.keyFor); err != nil {
		return events.Actor{}, fmt.Errorf("authn: %w", err)
	}
	sub, err := claims.GetSubject()
	if err != nil || !validSubject(sub) {
		return events.Actor{}, errors.New("authn: the token's subject (sub) is missing or not printable ASCII of at most 128 bytes")
	}
	role, err := o.role(claims)
	if err != nil {
		return events.Actor{}, err
	}
	return events.Actor{ID: sub, Role: role}, nil
}

// validSubject keeps actor ids to what the pages and logs handle: visible
// ASCII, bounded. Issuers' subjects are UUIDs, numbers or base64 ids.
func validSubject(s string) bool { return events.ValidActorID(s) }

// role finds the one role of the service in the roles claim. Other values
// are ignored (Keycloak lists "offline_access" and the like beside the
// application's roles). Two or more of the service's roles are refused
// rather than ranked: the roles separate duties (an auditor only reads, a
// reviewer decides, an applicant is decided about), so picking one by a
// precedence would silently give a person powers, or take them away, that
// nobody chose. Such a person needs one account per role.
func (o *oidcVerifier) role(claims jwt.MapClaims) (string, error) {
	v, ok := claims[o.rolesClaim]
	if !ok {
		v, ok = walk(claims, o.rolesPath)
	}
	if !ok {
		return "", fmt.Errorf("%w: no claim %q", ErrNoRole, o.rolesClaim)
	}
	var values []string
	switch v := v.(type) {
	case string:
		values = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("%w: claim %q is not a string or an array of strings", ErrNoRole, o.rolesClaim)
			}
			values = append(values, s)
		}
	default:
		return "", fmt.Errorf("%w: claim %q is not a string or an array of strings", ErrNoRole, o.rolesClaim)
	}
	var found []string
	for _, s := range values {
		if slices.Contains(Roles, s) && !slices.Contains(found, s) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: claim %q names none of %s", ErrNoRole, o.rolesClaim, strings.Join(Roles, ", "))
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", &AmbiguousRoleError{Roles: found}
}

func walk(claims map[string]any, path []string) (any, bool) {
	var cur any = claims
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// discover reads jwks_uri from the issuer's OpenID Connect discovery
// document, which must name the same issuer (OpenID Connect Discovery
// 1.0, 4.3): otherwise a document at one address could vouch for keys of
// another issuer.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("authn: OIDC discovery %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("authn: OIDC discovery %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("authn: OIDC discovery %s: HTTP %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("authn: OIDC discovery %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("authn: OIDC discovery %s names issuer %q, not %q", u, doc.Issuer, issuer)
	}
	if err := config.TrustedURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("authn: OIDC discovery %s: jwks_uri: %w", u, err)
	}
	return doc.JWKSURI, nil
}

// loadPublicKey reads a PEM public key (PKIX "PUBLIC KEY", PKCS#1 "RSA
// PUBLIC KEY" or a certificate) and returns it with the one algorithm its
// tokens may use.
func loadPublicKey(path string) (crypto.PublicKey, string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("authn: OIDC public key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, "", fmt.Errorf("authn: OIDC public key %s is not PEM", path)
	}
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, "", fmt.Errorf("authn: OIDC public key %s: PEM block %q is not a public key", path, block.Type)
	}
	if err != nil {
		return nil, "", fmt.Errorf("authn: OIDC public key %s: %w", path, err)
	}
	for _, alg := range []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()} {
		if fits(alg, pub) {
			return pub, alg, nil
		}
	}
	return nil, "", fmt.Errorf("authn: OIDC public key %s: want RSA of at least 2048 bits, ECDSA P-256 or Ed25519", path)
}

// cappedClient copies c so that response bodies end after maxDocBytes and
// redirects go to trusted URLs only: the issuer's documents are small, and
// a key set must not be fetched from an address that could be tampered with.
func cappedClient(c *http.Client) *http.Client {
	cc := *c
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = capTransport{base}
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("authn: too many redirects")
		}
		return config.TrustedURL(req.URL.String())
	}
	return &cc
}

type capTransport struct{ base http.RoundTripper }

func (t capTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: maxDocBytes}
	return resp, nil
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("authn: response larger than %d bytes", maxDocBytes)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// OIDC reports whether tokens come from an OIDC issuer (production) rather
// than from the dev key.
func (v *Verifier) OIDC() bool { return v.oidc != nil }

// Close stops fetching the issuer's keys.
func (v *Verifier) Close() {
	if v.oidc != nil {
		v.oidc.stop()
	}
}

// Mode describes the authentication in force, for the start-up log.
func (v *Verifier) Mode() string {
	if v.oidc == nil {
		return "dev-mode JWT (omsctl token, phone + one-time code)"
	}
	return "OIDC, issuer " + v.oidc.issuer
}

// Announce logs, once at start, which authentication is on. Dev mode is a
// WARN: anyone who can reach omsd can sign in as anyone.
func (v *Verifier) Announce(log *slog.Logger) {
	if v.oidc == nil {
		log.Warn("DEV AUTHENTICATION IS ON: tokens are signed with a key in the data dir (omsctl token) and anyone can sign in by phone with a code printed in this log; never use this in production: set OMS_OIDC_ISSUER")
		return
	}
	keys := v.oidc.jwksURL
	if keys == "" {
		keys = "static public key " + v.oidc.keyFile
	}
	log.Info("OIDC authentication on: dev sign-in and omsctl tokens are off",
		"issuer", v.oidc.issuer, "keys", keys, "audience", v.oidc.audience, "roles_claim", v.oidc.rolesClaim)
}
