package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/projections/history"
)

// pageNames are the templates that render whole pages; each is parsed with
// the layout and the partials.
var pageNames = []string{"signin", "cabinet", "form", "application", "operator", "queue", "review", "auditor", "timeline", "personaccess", "verify", "consent", "error", "visitcode"}

type renderer struct {
	pages    map[string]*template.Template
	fragment *template.Template
	langs    map[string]*Lang
	version  string
}

var funcs = template.FuncMap{
	// json renders a value for a data attribute or a <script
	// type="application/json"> block; html/template escapes it for the
	// context it lands in.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"fieldID":    fieldID,
	"add":        func(a, b int) int { return a + b },
	"neg":        func(a int) int { return -a },
	"pathEscape": url.PathEscape,
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	// short is how a page names an application: its number, the last 8
	// hex digits of its id, which are random (the first are a UUIDv7's
	// clock, the same for every application of the same hour); the same
	// rule that staff look an application up by (history.Number).
	"short": history.Number,
}

// fieldID turns a JSON pointer into an element id: "/applicant/lastName"
// becomes "f-applicant-lastName".
func fieldID(ptr string) string {
	return "f" + strings.ReplaceAll(ptr, "/", "-")
}

func newRenderer() (*renderer, error) {
	langs, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	r := &renderer{pages: map[string]*template.Template{}, langs: langs}
	for _, p := range pageNames {
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", p, err)
		}
		r.pages[p] = t
	}
	r.fragment, err = template.New("fragment").Funcs(funcs).ParseFS(templateFS, "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse partials: %w", err)
	}
	// The asset version busts caches when the binary's assets change.
	hash := sha256.New()
	err = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(staticFS, p)
		hash.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.version = hex.EncodeToString(hash.Sum(nil))[:12]
	return r, nil
}

// Page is what every page template gets.
type Page struct {
	L        *Lang
	Other    *Lang // the language the switch offers
	SwitchTo string
	Title    string // catalog key
	Session  *Session
	CSRF     string
	Version  string
	Path     string
	// OnBehalfOf is the applicant an operator acts for on this page; the
	// page's script sends it as X-On-Behalf-Of.
	OnBehalfOf string
	// OnBehalfName names that applicant for the operator to compare with
	// the passport in hand, where the page has read it.
	OnBehalfName string
	// MaxUpload is the largest scan taken, in bytes, for the page script.
	MaxUpload int64
	// DraftOwner is whose drafts the page script keeps (draftOwner):
	// those of anyone else it drops.
	DraftOwner string
	Nav        []NavItem
	Data       any
}

// formStart is the page a form posted to path starts from.
func formStart(path string) string {
	if strings.HasPrefix(path, "/signin/") {
		return "/signin"
	}
	return "/"
}

// NavItem is one entry of the header navigation.
type NavItem struct {
	Href, Label string
	Current     bool
}

func (h *handlers) page(c *fiber.Ctx, title string, data any) *Page {
	l := h.lang(c)
	other := h.r.langs["en"]
	if l.Code == "en" {
		other = h.r.langs["ru"]
	}
	q, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
	q.Set("lang", other.Code)
	switchPath := c.Path()
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		// A page answering a form (a sign-in step) has no address of its
		// own to open in the other language: the link goes to where the
		// form started.
		switchPath = formStart(c.Path())
		// Only from a body already read under its route's bound: a page
		// refusing a request (405, 413, 401) answers before anyone read
		// the body, and reading the form here read all of it, however
		// large (review QA: 1 GB from one anonymous request).
		if !c.Request().IsBodyStream() {
			if next := c.FormValue("next"); next != "" {
				q.Set("next", next) // checked again where it is used
			}
		}
	}
	p := &Page{L: l, Other: other, SwitchTo: switchPath + "?" + q.Encode(), Title: title, Version: h.r.version, Path: c.Path(), Data: data, MaxUpload: h.d.MaxUploadBytes}
	if s, ok := h.d.Auth.Session(c); ok {
		p.Session = &s
		p.CSRF = s.CSRF
		p.DraftOwner = h.draftOwner(s)
		p.Nav = navFor(s.Role, c.Path(), l)
	} else {
		p.CSRF = h.d.Auth.FormToken(c)
	}
	return p
}

func navFor(role, path string, l *Lang) []NavItem {
	var items []NavItem
	switch role {
	case roleApplicant:
		items = []NavItem{{Href: "/cabinet", Label: l.T("nav.cabinet")}, {Href: "/cabinet/new", Label: l.T("nav.new")}}
	case roleOperator:
		items = []NavItem{{Href: "/operator", Label: l.T("nav.operator")}}
	case roleReviewer:
		items = []NavItem{{Href: "/reviewer", Label: l.T("nav.queue")}}
	case roleAuditor:
		items = []NavItem{{Href: "/auditor", Label: l.T("nav.auditor")}}
	case roleAdmin:
		items = []NavItem{{Href: "/reviewer", Label: l.T("nav.queue")}, {Href: "/auditor", Label: l.T("nav.auditor")}}
	}
	for i := range items {
		items[i].Current = items[i].Href == path
	}
	return items
}

func (h *handlers) render(c *fiber.Ctx, status int, name string, p *Page) error {
	t, ok := h.r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

func (h *handlers) renderFragment(c *fiber.Ctx, name string, data any) error {
	var buf bytes.Buffer
	if err := h.r.fragment.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("web: render fragment %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(buf.Bytes())
}

// ErrorData is the error page's content.
type ErrorData struct {
	Status  int
	Message string
	// Title replaces "something went wrong" where nothing did (a refusal
	// the page explains), and Back the link home, as a path and its text.
	Title, Back, BackLabel string
}

func (h *handlers) errorPage(c *fiber.Ctx, status int, key string) error {
	p := h.page(c, "error.title", ErrorData{Status: status, Message: h.lang(c).T(key)})
	return h.render(c, status, "error", p)
}

// noScript answers a form of the pages that was sent without its script:
// the pages' forms go to the JSON API through the script, and a browser
// without it would otherwise have sent the form as a GET to the page
// itself, with every field (passport numbers, the address) in the URL, its
// history and the logs of every proxy, and shown the page again as if
// nothing had been wrong. The form's fields are not read.
func (h *handlers) noScript(c *fiber.Ctx) error {
	l := h.lang(c)
	p := h.page(c, "nojs.title", ErrorData{Status: fiber.StatusOK, Title: l.T("nojs.title"), Message: l.T("nojs.message")})
	return h.render(c, fiber.StatusOK, "error", p)
}

// sortedKeys is for templates that range over maps in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
