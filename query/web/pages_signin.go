package web

import (
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// SigninData is the sign-in page's content.
type SigninData struct {
	Dev       bool
	IssuerURL string
	Step      string // "phone" or "code"
	Phone     string
	Role      string
	Roles     []Option
	Next      string
	Error     string
}

// signinRoles are offered in dev mode, so one browser can play every part.
var signinRoles = []string{roleApplicant, roleOperator, roleReviewer, roleAuditor}

func (h *handlers) home(c *fiber.Ctx) error {
	s, ok := h.d.Auth.Session(c)
	if !ok {
		return c.Redirect("/signin", fiber.StatusSeeOther)
	}
	return c.Redirect(homeOf(s.Role), fiber.StatusSeeOther)
}

func homeOf(role string) string {
	switch role {
	case roleApplicant:
		return "/cabinet"
	case roleOperator:
		return "/operator"
	case roleReviewer, roleAdmin:
		return "/reviewer"
	case roleAuditor:
		return "/auditor"
	}
	return "/signin"
}

func (h *handlers) signinData(c *fiber.Ctx, step string) SigninData {
	l := h.lang(c)
	d := SigninData{Dev: h.d.SignIn != nil, IssuerURL: h.d.IssuerURL, Step: step, Role: roleApplicant, Next: safeLocal(c.Query("next", c.FormValue("next", "/")))}
	for _, r := range signinRoles {
		d.Roles = append(d.Roles, Option{Value: r, Label: l.T("role." + r)})
	}
	return d
}

func (h *handlers) signinPage(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "signin", h.page(c, "signin.title", h.signinData(c, "phone")))
}

func (h *handlers) signinFail(c *fiber.Ctx, d SigninData, status int, key string) error {
	d.Error = h.lang(c).T(key)
	return h.render(c, status, "signin", h.page(c, "signin.title", d))
}

func (h *handlers) signinCode(c *fiber.Ctx) error {
	d := h.signinData(c, "phone")
	if h.d.SignIn == nil {
		return h.signinFail(c, d, fiber.StatusNotFound, "signin.err.notDev")
	}
	d.Phone, d.Role = strings.TrimSpace(c.FormValue("phone")), c.FormValue("role")
	if !slices.Contains(signinRoles, d.Role) {
		d.Role = roleApplicant
	}
	if !h.d.Auth.CheckForm(c) {
		// The form goes back as it was sent: only the token was stale.
		return h.signinFail(c, d, fiber.StatusForbidden, "error.csrf")
	}
	if err := h.d.SignIn.Start(d.Phone, d.Role); err != nil {
		return h.signinFail(c, d, fiber.StatusUnprocessableEntity, signinKey(err))
	}
	d.Step = "code"
	return h.render(c, fiber.StatusOK, "signin", h.page(c, "signin.title", d))
}

func signinKey(err error) string {
	var se SignInError
	if errors.As(err, &se) {
		return string(se)
	}
	return "error.generic"
}

func (h *handlers) signinVerify(c *fiber.Ctx) error {
	d := h.signinData(c, "code")
	if h.d.SignIn == nil {
		return h.signinFail(c, d, fiber.StatusNotFound, "signin.err.notDev")
	}
	if !h.d.Auth.CheckForm(c) {
		return h.signinFail(c, d, fiber.StatusForbidden, "error.csrf")
	}
	d.Phone, d.Role = strings.TrimSpace(c.FormValue("phone")), c.FormValue("role")
	token, csrf, err := h.d.SignIn.Verify(d.Phone, d.Role, c.FormValue("code"))
	if err != nil {
		if signinKey(err) == "signin.err.noCode" {
			d.Step = "phone"
		}
		return h.signinFail(c, d, fiber.StatusUnprocessableEntity, signinKey(err))
	}
	h.d.Auth.SetSession(c, token, csrf)
	next := d.Next
	if next == "/" || strings.HasPrefix(next, "/signin") {
		next = homeOf(d.Role)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

func (h *handlers) signout(c *fiber.Ctx) error {
	if _, ok := h.d.Auth.Session(c); !ok {
		// The session has ended already (expired, or signed out in
		// another tab): there is nothing a forged request could end, so
		// an old page's token need not match.
		h.d.Auth.ClearSession(c)
		return c.Redirect("/signin", fiber.StatusSeeOther)
	}
	if !h.d.Auth.CheckForm(c) {
		return h.errorPage(c, fiber.StatusForbidden, "error.csrf")
	}
	h.d.Auth.ClearSession(c)
	return c.Redirect("/signin", fiber.StatusSeeOther)
}

// phoneLike says whether s is written as a phone number is: digits with
// the "+", spaces, dashes and brackets people type, and nothing else. Dev
// mode's subject ids are UUIDs, which have hex letters, or are parsed as
// UUIDs first.
func phoneLike(s string) bool {
	if _, err := uuid.Parse(s); err == nil {
		return false
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+-() \u00a0", r):
		default:
			return false
		}
	}
	return digits > 0
}

// ConsentData is the consent text in force, to read, print and sign.
type ConsentData struct {
	Version, TextSHA256 string
	Paragraphs          []string
}

// consentText serves the consent an applicant signs on paper and uploads
// as a scan, in the page's language; the form links to it. No sign-in is
// needed: people read it before they apply.
func (h *handlers) consentText(c *fiber.Ctx) error {
	var doc struct {
		Version    string `json:"version"`
		TextSHA256 string `json:"textSha256"`
		Text       struct {
			RU string `json:"ru"`
			EN string `json:"en"`
		} `json:"text"`
	}
	if err := h.get(c, "/api/v1/consent", &doc); err != nil {
		return h.apiFailure(c, err)
	}
	text := h.lang(c).Pick(doc.Text.RU, doc.Text.EN)
	d := ConsentData{Version: doc.Version, TextSHA256: doc.TextSHA256, Paragraphs: strings.Split(text, "\n")}
	return h.render(c, fiber.StatusOK, "consent", h.page(c, "consent.title", d))
}
