// Package config is the one place omsd and omsctl read their settings from:
// every setting is an OMS_* environment variable and a flag of the same
// meaning, the flag winning.
package config

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the runtime configuration.
type Config struct {
	// envErrs are the environment values that did not parse, by flag
	// name; Validate overlooks those whose flag flags says was given (see
	// Register).
	envErrs    map[string]error
	flags      *flag.FlagSet
	HTTPAddr   string
	DataDir    string
	ESDBURL    string // external event store; empty runs the embedded one
	ESDBListen string
	ESDBTLSCert,
	ESDBTLSKey string
	MongoURI      string // empty uses the embedded SQLite read store
	MongoDatabase string
	AutoIssue     bool
	SLADays       int
	// AnswerTermDays is how many working days an applicant has to answer
	// a reviewer's request before "no response" may be the refusal.
	AnswerTermDays   int
	PolicyTermMonths int
	LogLevel         string
	LeaseTTL         time.Duration
	// RunProjections lets this node campaign for the projections' lease.
	// Off, it serves requests only and waits for the projections another
	// node runs: nodes that take the commands can be kept apart from the
	// node whose CPU goes to projecting them.
	RunProjections bool
	// ESDBConnectTimeout bounds the start-up's first call to the event
	// store; later calls wait for it as long as their own deadlines.
	ESDBConnectTimeout time.Duration
	// ErasureScanTimeout bounds an erasure's read of the event store for
	// the applicant's uploads (service.Options.UploadScanTimeout).
	ErasureScanTimeout time.Duration
	// ProjectionCacheMB bounds each projection's cache of the documents it
	// reads back, in megabytes of their JSON (runner.Options.CacheBytes).
	ProjectionCacheMB int
	// SchedulerInterval is how often reminders and expiries are checked.
	SchedulerInterval time.Duration
	// ReadModelsDir holds the embedded read models; default <data dir>/readmodels.
	ReadModelsDir string
	// DevKeyDir holds the dev-mode signing key; default the data dir. Nodes
	// of one dev deployment share it so each accepts the others' tokens.
	DevKeyDir string
	// SMTPURL turns on e-mail notifications (smtp:// or smtps://).
	SMTPURL  string
	SMTPFrom string
	// AdvertiseURL is where this node's own HTTP API is reached (behind
	// the load balancer, by the node's address): it goes with the node's
	// id into the projections' lease, so that an operator told the
	// projections run elsewhere learns where.
	AdvertiseURL string
	// PublicURL is the service's external base URL, for links in letters
	// and the policy extract's QR code; empty means http:// and the listen
	// address (never a request's Host header, which a client chooses).
	PublicURL    string
	PolicyIssuer string
	// RateLimitIP and RateLimitSubject bound the requests one client IP,
	// and one signed-in subject, may make per RateLimitWindow; 0 turns a
	// limit off. RateLimitSignIn bounds sign-in form posts per IP per
	// minute, since each one may send an SMS.
	RateLimitIP      int
	RateLimitSubject int
	RateLimitWindow  time.Duration
	RateLimitSignIn  int
	// RateLimitUploads bounds the scans one signed-in subject may upload
	// per hour: each takes up to 10 MB of disk for good, and the request
	// limits above would let one account fill a disk in minutes.
	RateLimitUploads int
	// DebugAddr turns on the pprof listener; a bare port binds loopback
	// only, since profiles expose memory contents.
	DebugAddr string
	// OIDCIssuer turns on production authentication: bearer tokens must be
	// signed by this OpenID Connect issuer. Empty means dev mode (phone +
	// one-time code sign-in and `omsctl token`).
	OIDCIssuer string
	// OIDCAudience is the audience ("aud") tokens must be issued for.
	OIDCAudience string
	// OIDCRolesClaim names the claim holding the caller's role: a top-level
	// claim, or a dotted path such as realm_access.roles (Keycloak).
	OIDCRolesClaim string
	// OIDCJWKSURL overrides the key set URL that discovery would find.
	OIDCJWKSURL string
	// OIDCPublicKeyFile is a PEM public key used instead of a JWKS, for
	// issuers that publish none.
	OIDCPublicKeyFile string
	// MasterKey (base64 of 32 bytes) or MasterKeyFile wraps the
	// applicants' data keys. With neither, a dev key is created in the data
	// dir and omsd warns: production keeps the master key apart from the
	// data it protects.
	MasterKey     string
	MasterKeyFile string
	// RetentionYears is how long an issued policy's record is kept after
	// its last term before the applicant's data may be erased.
	RetentionYears int
}

type setting struct {
	env, flag, usage string
	str              *string
	b                *bool
	i                *int
	dur              *time.Duration
}

func (c *Config) settings() []setting {
	return []setting{
		{env: "OMS_HTTP_ADDR", flag: "http-addr", usage: "HTTP listen address", str: &c.HTTPAddr},
		{env: "OMS_DATA_DIR", flag: "data-dir", usage: "data directory (event log, read models, scans, dev keys)", str: &c.DataDir},
		{env: "OMS_ESDB_URL", flag: "esdb-url", usage: "esdb:// connection string of an external EventStoreDB/KurrentDB; empty runs the embedded store", str: &c.ESDBURL},
		{env: "OMS_ESDB_LISTEN", flag: "esdb-listen", usage: "listen address of the embedded event store (gRPC)", str: &c.ESDBListen},
		{env: "OMS_ESDB_TLS_CERT", flag: "esdb-tls-cert", usage: "PEM certificate for the embedded event store's TLS", str: &c.ESDBTLSCert},
		{env: "OMS_ESDB_TLS_KEY", flag: "esdb-tls-key", usage: "PEM key for the embedded event store's TLS", str: &c.ESDBTLSKey},
		{env: "OMS_MONGO_URI", flag: "mongo-uri", usage: "MongoDB URI for read models and scans; empty uses embedded SQLite", str: &c.MongoURI},
		{env: "OMS_MONGO_DB", flag: "mongo-db", usage: "MongoDB database name", str: &c.MongoDatabase},
		{env: "OMS_AUTO_ISSUE", flag: "auto-issue", usage: "issue the policy automatically right after approval", b: &c.AutoIssue},
		{env: "OMS_SLA_DAYS", flag: "sla-days", usage: "review deadline in working days", i: &c.SLADays},
		{env: "OMS_ANSWER_TERM_DAYS", flag: "answer-term-days", usage: "working days an applicant has to answer a request for information", i: &c.AnswerTermDays},
		{env: "OMS_POLICY_TERM_MONTHS", flag: "policy-term-months", usage: "policy validity in months (the seed says a year)", i: &c.PolicyTermMonths},
		{env: "OMS_LOG_LEVEL", flag: "log-level", usage: "debug, info, warn or error", str: &c.LogLevel},
		{env: "OMS_SCHEDULER_INTERVAL", flag: "scheduler-interval", usage: "how often renewal reminders and expiries are checked", dur: &c.SchedulerInterval},
		{env: "OMS_LEASE_TTL", flag: "lease-ttl", usage: "how long the projection lease outlives a silent holder", dur: &c.LeaseTTL},
		{env: "OMS_RUN_PROJECTIONS", flag: "run-projections", usage: "take part in running the projections; false serves requests only, and another node must run them", b: &c.RunProjections},
		{env: "OMS_ESDB_CONNECT_TIMEOUT", flag: "esdb-connect-timeout", usage: "how long omsd waits at start for the event store to answer", dur: &c.ESDBConnectTimeout},
		{env: "OMS_ERASURE_SCAN_TIMEOUT", flag: "erasure-scan-timeout", usage: "how long an erasure may read the event store for the applicant's uploads", dur: &c.ErasureScanTimeout},
		{env: "OMS_PROJECTION_CACHE_MB", flag: "projection-cache-mb", usage: "megabytes of documents (as JSON) each projection keeps in memory; about twice that in heap", i: &c.ProjectionCacheMB},
		{env: "OMS_DEV_KEY_DIR", flag: "dev-key-dir", usage: "directory of the dev-mode token signing key (default: the data dir)", str: &c.DevKeyDir},
		{env: "OMS_READMODELS_DIR", flag: "readmodels-dir", usage: "directory of the embedded read models (several omsd on one machine may share it)", str: &c.ReadModelsDir},
		{env: "OMS_SMTP_URL", flag: "smtp-url", usage: "SMTP server for e-mail notifications, smtp://[user:pass@]host[:port][?starttls=off] or smtps://…; empty sends no e-mail", str: &c.SMTPURL},
		{env: "OMS_SMTP_FROM", flag: "smtp-from", usage: "sender of e-mail notifications", str: &c.SMTPFrom},
		{env: "OMS_ADVERTISE_URL", flag: "advertise-url", usage: "this node's own HTTP address as other nodes and operators reach it (e.g. http://10.0.0.5:8080); named where the projections run", str: &c.AdvertiseURL},
		{env: "OMS_PUBLIC_URL", flag: "public-url", usage: "external base URL of the service (links in e-mails, the policy QR code); empty means http:// and the HTTP listen address, never the request's Host header", str: &c.PublicURL},
		{env: "OMS_POLICY_ISSUER", flag: "policy-issuer", usage: "insurer named on the policy extract", str: &c.PolicyIssuer},
		{env: "OMS_RATE_LIMIT_IP", flag: "rate-limit-ip", usage: "requests per window from one client IP; 0 turns the limit off", i: &c.RateLimitIP},
		{env: "OMS_RATE_LIMIT_SUBJECT", flag: "rate-limit-subject", usage: "requests per window by one signed-in subject; 0 turns the limit off", i: &c.RateLimitSubject},
		{env: "OMS_RATE_LIMIT_WINDOW", flag: "rate-limit-window", usage: "window of the per-IP and per-subject rate limits", dur: &c.RateLimitWindow},
		{env: "OMS_RATE_LIMIT_UPLOADS", flag: "rate-limit-uploads", usage: "scan uploads per hour by one signed-in subject; 0 turns the limit off", i: &c.RateLimitUploads},
		{env: "OMS_RATE_LIMIT_SIGNIN", flag: "rate-limit-signin", usage: "sign-in form posts per minute from one client IP; 0 turns the limit off", i: &c.RateLimitSignIn},
		{env: "OMS_OIDC_ISSUER", flag: "oidc-issuer", usage: "OpenID Connect issuer URL whose tokens omsd accepts; empty runs dev-mode authentication (never in production)", str: &c.OIDCIssuer},
		{env: "OMS_OIDC_AUDIENCE", flag: "oidc-audience", usage: "audience (aud) that OIDC tokens must carry", str: &c.OIDCAudience},
		{env: "OMS_OIDC_ROLES_CLAIM", flag: "oidc-roles-claim", usage: "claim with the caller's role, a string or array; a dotted path such as realm_access.roles walks nested objects", str: &c.OIDCRolesClaim},
		{env: "OMS_OIDC_JWKS_URL", flag: "oidc-jwks-url", usage: "JWKS URL of the issuer's signing keys (default: jwks_uri from <issuer>/.well-known/openid-configuration)", str: &c.OIDCJWKSURL},
		{env: "OMS_OIDC_PUBLIC_KEY_FILE", flag: "oidc-public-key-file", usage: "PEM public key (RSA, P-256 or Ed25519) that signs the issuer's tokens, instead of a JWKS", str: &c.OIDCPublicKeyFile},
		{env: "OMS_MASTER_KEY", flag: "master-key", usage: "base64 of the 32-byte master key that wraps applicants' data keys (prefer OMS_MASTER_KEY_FILE: flags show in ps)", str: &c.MasterKey},
		{env: "OMS_MASTER_KEY_FILE", flag: "master-key-file", usage: "file holding the base64 master key; with neither, a dev key is made in the data dir", str: &c.MasterKeyFile},
		{env: "OMS_RETENTION_YEARS", flag: "retention-years", usage: "years an issued policy's record is kept after its last term before the applicant's data may be erased", i: &c.RetentionYears},
		{env: "OMS_DEBUG_ADDR", flag: "debug-addr", usage: "listen address of the pprof debug listener, e.g. :6060 (a bare port listens on 127.0.0.1 only); empty turns it off", str: &c.DebugAddr},
	}
}

// Defaults are the embedded, single-machine defaults.
func Defaults() Config {
	return Config{
		HTTPAddr:          "127.0.0.1:8080",
		DataDir:           "./data",
		ESDBListen:        "127.0.0.1:2113",
		MongoDatabase:     "oms",
		SLADays:           10,
		AnswerTermDays:    10,
		ProjectionCacheMB: 4,
		PolicyTermMonths:  12,
		RetentionYears:    5,
		LogLevel:          "info",
		LeaseTTL:          10 * time.Second,
		RunProjections:    true,
		// service.DefaultUploadScanTimeout; not imported, config stays a
		// leaf.
		ErasureScanTimeout: 2 * time.Minute,
		ESDBConnectTimeout: 15 * time.Second,
		SchedulerInterval:  time.Minute,
		SMTPFrom:           "ОМС онлайн <noreply@oms.local>",
		// Generous: one load generator at 500 commands/s sends 1,400 to
		// 2,500 requests/s from one IP, 750 of them as one reviewer. The
		// limits are there to cut off floods, not to shape ordinary
		// traffic.
		RateLimitIP:      50000,
		RateLimitSubject: 15000,
		RateLimitWindow:  10 * time.Second,
		RateLimitSignIn:  20,
		// An application needs three scans, an answer or a renewal a few
		// more; an МФЦ operator serves a dozen people an hour.
		RateLimitUploads: 100,
		OIDCAudience:     "oms",
		OIDCRolesClaim:   "roles",
	}
}

// Register binds c's settings to fs, with defaults taken from the
// environment over c's current values.
//
// An environment value that does not parse is reported by Validate, not
// here, and not at all when the setting's flag is given: the flag wins,
// and -h must print the usage whatever the environment holds.
func (c *Config) Register(fs *flag.FlagSet) error {
	if c.envErrs == nil {
		c.envErrs = map[string]error{}
	}
	for _, s := range c.settings() {
		v, set := os.LookupEnv(s.env)
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		bad := func(err error) { c.envErrs[s.flag] = fmt.Errorf("config: %s=%q: %w", s.env, v, err) }
		switch {
		case s.str != nil:
			if set {
				*s.str = v
			}
			fs.StringVar(s.str, s.flag, *s.str, usage)
		case s.b != nil:
			if set {
				if b, err := strconv.ParseBool(v); err != nil {
					bad(err)
				} else {
					*s.b = b
				}
			}
			fs.BoolVar(s.b, s.flag, *s.b, usage)
		case s.i != nil:
			if set {
				if n, err := strconv.Atoi(v); err != nil {
					bad(err)
				} else {
					*s.i = n
				}
			}
			fs.IntVar(s.i, s.flag, *s.i, usage)
		case s.dur != nil:
			if set {
				if d, err := time.ParseDuration(v); err != nil {
					bad(err)
				} else {
					*s.dur = d
				}
			}
			fs.DurationVar(s.dur, s.flag, *s.dur, usage)
		}
	}
	c.flags = fs
	return nil
}

// listenAddr refuses a listen address without an explicit port: an empty
// one, as an unset variable in an env file gives, made the API listen on
// every interface at a random port.
func listenAddr(name, addr string) error {
	// An empty host is every interface, which a container wants.
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("config: %s %q: want host:port, e.g. 127.0.0.1:8080", name, addr)
	}
	return nil
}

// Validate checks the settings after parsing and makes paths absolute.
func (c *Config) Validate() error {
	if c.flags != nil {
		// A flag given on the command line wins over its variable,
		// parsed or not.
		c.flags.Visit(func(f *flag.Flag) { delete(c.envErrs, f.Name) })
	}
	if len(c.envErrs) > 0 {
		names := make([]string, 0, len(c.envErrs))
		for n := range c.envErrs {
			names = append(names, n)
		}
		slices.Sort(names)
		return c.envErrs[names[0]]
	}
	if c.DataDir == "" {
		return fmt.Errorf("config: the data directory is empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("config: data dir: %w", err)
	}
	c.DataDir = abs
	if c.DevKeyDir == "" {
		c.DevKeyDir = c.DataDir
	}
	if c.ReadModelsDir == "" {
		c.ReadModelsDir = filepath.Join(c.DataDir, "readmodels")
	}
	if err := listenAddr("OMS_HTTP_ADDR (--http-addr)", c.HTTPAddr); err != nil {
		return err
	}
	if c.ESDBURL == "" {
		if err := listenAddr("OMS_ESDB_LISTEN (--esdb-listen)", c.ESDBListen); err != nil {
			return err
		}
	}
	if c.LeaseTTL < time.Second {
		return fmt.Errorf("config: OMS_LEASE_TTL must be at least 1s")
	}
	// Reminders and expiries are due by the day; a check every second is
	// already a thousand times too often, and below that the node spins.
	if c.SchedulerInterval < time.Second {
		return fmt.Errorf("config: OMS_SCHEDULER_INTERVAL must be at least 1s, e.g. 1m")
	}
	if c.ESDBConnectTimeout < 100*time.Millisecond {
		return fmt.Errorf("config: OMS_ESDB_CONNECT_TIMEOUT must be at least 100ms, e.g. 15s")
	}
	if c.ErasureScanTimeout < time.Second {
		return fmt.Errorf("config: OMS_ERASURE_SCAN_TIMEOUT must be at least 1s")
	}
	if (c.ESDBTLSCert == "") != (c.ESDBTLSKey == "") {
		return fmt.Errorf("config: OMS_ESDB_TLS_CERT and OMS_ESDB_TLS_KEY go together")
	}
	if c.SLADays <= 0 {
		return fmt.Errorf("config: OMS_SLA_DAYS must be positive")
	}
	if c.AnswerTermDays <= 0 {
		return fmt.Errorf("config: OMS_ANSWER_TERM_DAYS must be positive")
	}
	if c.ProjectionCacheMB < 1 || c.ProjectionCacheMB > 1<<16 {
		return fmt.Errorf("config: OMS_PROJECTION_CACHE_MB must be between 1 and 65536")
	}
	if c.RetentionYears <= 0 {
		return fmt.Errorf("config: OMS_RETENTION_YEARS must be positive")
	}
	if c.MasterKey != "" && c.MasterKeyFile != "" {
		return fmt.Errorf("config: set OMS_MASTER_KEY or OMS_MASTER_KEY_FILE, not both")
	}
	c.AdvertiseURL = strings.TrimSuffix(c.AdvertiseURL, "/")
	if c.AdvertiseURL != "" {
		if u, err := url.Parse(c.AdvertiseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("config: OMS_ADVERTISE_URL must be an http(s) URL such as http://10.0.0.5:8080")
		}
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: OMS_PUBLIC_URL must be an http(s) URL such as https://oms.example.org")
		}
	}
	if c.DebugAddr != "" {
		host, port, err := net.SplitHostPort(c.DebugAddr)
		if err != nil {
			// A bare port number is accepted too.
			host, port = "", c.DebugAddr
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("config: OMS_DEBUG_ADDR %q: want host:port or a port", c.DebugAddr)
		}
		if host == "" {
			host = "127.0.0.1"
		}
		c.DebugAddr = net.JoinHostPort(host, port)
	}
	if c.PolicyTermMonths <= 0 {
		return fmt.Errorf("config: OMS_POLICY_TERM_MONTHS must be positive")
	}
	if c.RateLimitIP < 0 || c.RateLimitSubject < 0 || c.RateLimitSignIn < 0 || c.RateLimitUploads < 0 {
		return fmt.Errorf("config: OMS_RATE_LIMIT_IP, OMS_RATE_LIMIT_SUBJECT, OMS_RATE_LIMIT_SIGNIN and OMS_RATE_LIMIT_UPLOADS must be 0 (off) or positive")
	}
	if (c.RateLimitIP > 0 || c.RateLimitSubject > 0) && c.RateLimitWindow < time.Second {
		return fmt.Errorf("config: OMS_RATE_LIMIT_WINDOW must be at least 1s")
	}
	return c.validateOIDC()
}

// validateOIDC checks the OIDC settings. The key settings without an issuer
// are refused rather than ignored: someone who set them meant production
// authentication, and silently running dev mode instead would let anyone in.
func (c *Config) validateOIDC() error {
	if c.OIDCIssuer == "" {
		if c.OIDCJWKSURL != "" || c.OIDCPublicKeyFile != "" {
			return fmt.Errorf("config: OMS_OIDC_JWKS_URL and OMS_OIDC_PUBLIC_KEY_FILE need OMS_OIDC_ISSUER")
		}
		return nil
	}
	if err := TrustedURL(c.OIDCIssuer); err != nil {
		return fmt.Errorf("config: OMS_OIDC_ISSUER: %w", err)
	}
	if strings.ContainsAny(c.OIDCIssuer, "?#") {
		// OpenID Connect Discovery: the issuer has no query or fragment.
		return fmt.Errorf("config: OMS_OIDC_ISSUER %q has a query or fragment", c.OIDCIssuer)
	}
	if c.OIDCJWKSURL != "" {
		if err := TrustedURL(c.OIDCJWKSURL); err != nil {
			return fmt.Errorf("config: OMS_OIDC_JWKS_URL: %w", err)
		}
		if c.OIDCPublicKeyFile != "" {
			return fmt.Errorf("config: set OMS_OIDC_JWKS_URL or OMS_OIDC_PUBLIC_KEY_FILE, not both")
		}
	}
	if c.OIDCPublicKeyFile != "" {
		abs, err := filepath.Abs(c.OIDCPublicKeyFile)
		if err != nil {
			return fmt.Errorf("config: OMS_OIDC_PUBLIC_KEY_FILE: %w", err)
		}
		c.OIDCPublicKeyFile = abs
	}
	if strings.TrimSpace(c.OIDCAudience) == "" {
		return fmt.Errorf("config: OMS_OIDC_AUDIENCE is empty")
	}
	if c.OIDCRolesClaim == "" || slices.Contains(strings.Split(c.OIDCRolesClaim, "."), "") {
		return fmt.Errorf("config: OMS_OIDC_ROLES_CLAIM %q: want a claim name or a dotted path such as realm_access.roles", c.OIDCRolesClaim)
	}
	return nil
}

// TrustedURL accepts where signing keys may come from: https, or plain
// http on a loopback host only (a local test issuer). Keys fetched over
// plain HTTP from elsewhere could be swapped on the way.
func TrustedURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q: want an https URL such as https://id.example.org/realms/oms", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: plain http is accepted for a loopback host only; use https", raw)
	}
	return fmt.Errorf("%q: want an https URL", raw)
}

// EnvNames lists every environment variable omsd reads, for the checks that
// keep deployment files consistent with the code.
func EnvNames() []string {
	var c Config
	var out []string
	for _, s := range c.settings() {
		out = append(out, s.env)
	}
	return out
}
