package policypdf

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/policies"
	"github.com/omsonline/oms/projections/readstore"
	"github.com/omsonline/oms/query/httpapi"
)

type Deps struct {
	Store readstore.Store
	// After waits for ?after= (the read model is the policies projection).
	After httpapi.ReadAfter
	// Issuer is the insurer named on the extract.
	Issuer string
	// PublicURL is the service's external base URL for the verification
	// link, never taken from the request (see cmd/internal/app publicURL).
	PublicURL string
	// VerifyKey keys the documents' check codes (VerifyCode); the /verify
	// page needs the same key.
	VerifyKey []byte
	Now       func() time.Time
}

// Register mounts GET /api/v1/policies/:enp/pdf. Authentication is the
// /api middleware's job; this decides who may read which policy.
func Register(r fiber.Router, d Deps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Issuer == "" {
		d.Issuer = DefaultIssuer
	}
	h := &handler{d}
	r.Get("/api/v1/policies/:enp/pdf", httpapi.Only("after", "applicant"), h.pdf)
}

// DefaultIssuer names the insurer when none is configured.
const DefaultIssuer = "Страховая медицинская организация «ОМС онлайн»"

type handler struct{ d Deps }

func notFound(c *fiber.Ctx) error {
	return httpapi.Refuse(c, cmderr.NotFound, "policy_not_found", "Полис не найден.", "Policy not found.")
}

// Access is who may read a policy: its holder, an МФЦ operator acting for
// the holder, and the insurer's staff. A holder asking for someone else's
// number gets 404, like an unknown number, so numbers cannot be probed.
func Access(md events.Metadata, applicantID string) int {
	switch md.Actor.Role {
	case events.RoleReviewer, events.RoleAuditor, events.RoleAdmin:
		return fiber.StatusOK
	case events.RoleApplicant:
		if md.Actor.ID == applicantID {
			return fiber.StatusOK
		}
		return fiber.StatusNotFound
	case events.RoleOperator:
		if md.OnBehalfOf != "" && md.OnBehalfOf == applicantID {
			return fiber.StatusOK
		}
		return fiber.StatusNotFound
	}
	return fiber.StatusForbidden
}

func validNumber(enp string) bool {
	if len(enp) != 16 {
		return false
	}
	for _, r := range enp {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (h *handler) pdf(c *fiber.Ctx) error {
	md, ok := events.MetadataFrom(c.UserContext())
	if !ok {
		return httpapi.Refuse(c, cmderr.Unauthenticated, "unauthenticated", "Требуется вход в систему.", "Sign-in required.")
	}
	if Access(md, "\x00") == fiber.StatusForbidden {
		return httpapi.Refuse(c, cmderr.Forbidden, "wrong_role", "Выписку о полисе может получить владелец полиса, оператор МФЦ от его имени или сотрудник страховщика.",
			"The policy extract is for its holder, an MFC operator acting for them, or the insurer's staff.")
	}
	enp := c.Params("enp")
	if !validNumber(enp) {
		return notFound(c)
	}
	if err := h.d.After.Wait(c, "policies"); err != nil || c.Response().StatusCode() >= 400 {
		return err
	}
	raw, err := h.d.Store.Get(c.UserContext(), policies.Collection, enp)
	if errors.Is(err, readstore.ErrNotFound) || errors.Is(err, readstore.ErrNoCollection) {
		return notFound(c)
	}
	if err != nil {
		return err
	}
	var doc policies.Doc
	if err := json.Unmarshal(raw.Body, &doc); err != nil {
		return err
	}
	switch Access(md, doc.ApplicantID) {
	case fiber.StatusOK:
	default:
		return notFound(c)
	}
	// Never the request's Host header: a forged one would print an
	// official-looking extract whose link and QR code lead elsewhere.
	base := h.d.PublicURL
	var buf bytes.Buffer
	err = Render(&buf, Extract{
		FullName: doc.Holder.FullName(), LatinName: doc.Holder.LatinName, BirthDate: doc.Holder.BirthDate,
		Citizenship: doc.Holder.Citizenship, ENP: doc.ENP, ValidFrom: doc.ValidFrom, ValidTo: doc.ValidTo,
		Active: doc.Status == "active", Issuer: h.d.Issuer, Region: doc.Region,
		DocNumber: doc.Document.Number, DocVersion: doc.Document.Version, DocIssuedAt: doc.Document.IssuedAt,
		VerifyURL:   VerifyURL(base, doc.ENP, doc.Document.Number, VerifyCode(h.d.VerifyKey, doc.ENP, doc.Document.Number)),
		GeneratedAt: h.d.Now(),
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="oms-policy-`+doc.ENP+`.pdf"`)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(buf.Bytes())
}

// VerifyURL is the public check of one policy document: the ЕНП in the
// path, the document number, and the document's check code (VerifyCode),
// which only the extract carries. The document number alone was no second
// factor (it is the ЕНП and a version, ENP-01), so anyone knowing someone's
// ЕНП learnt whether they were insured and until when, which for a term
// capped by a residence permit is the permit's expiry.
func VerifyURL(base, enp, docNumber, code string) string {
	return base + "/verify/" + url.PathEscape(enp) + "?doc=" + url.QueryEscape(docNumber) + "&c=" + url.QueryEscape(code)
}

// VerifyCode is a policy document's check code: a keyed digest (HMAC-SHA256
// under key, cut to 64 bits) of its ЕНП and number, which cannot be derived
// without the key and is checked in constant time.
func VerifyCode(key []byte, enp, docNumber string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(enp + "|" + docNumber))
	return hex.EncodeToString(m.Sum(nil)[:8])
}
