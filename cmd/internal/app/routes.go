package app

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/policies"
	queryapi "github.com/omsonline/oms/query/httpapi"
)

// Routes lists the routes registered in Fiber (middleware excluded), for
// the check that the OpenAPI document describes exactly these.
func (a *App) Routes() []fiber.Route { return a.http.GetRoutes(true) }

// Routes whose handlers live outside the query API but serve personal data
// to staff: scans (command/httpapi) and the policy extract
// (query/policypdf). The query API records its own reads.
const (
	documentRoute  = "/api/v1/documents/:id"
	policyPDFRoute = "/api/v1/policies/:enp/pdf"
)

// useAccessLog records staff reads of scans and policy extracts in the
// access log (issue 7). It has to wrap handlers it does not own, so it runs
// after them: a handler only prepares the answer (a scan is a stream not
// yet read), Fiber writes it once the chain returns, and so the record is
// appended before any byte of the data leaves. When the record cannot be
// appended the prepared answer is dropped (the scan's stream closed) and
// the caller gets 503. Mount it before the routes it wraps.
func useAccessLog(a *App) {
	access := queryapi.NewAccessLog(a.events, a.log, nil)
	a.http.Use("/api/v1", func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		if err := c.Next(); err != nil {
			return err
		}
		md, ok := events.MetadataFrom(c.UserContext())
		if !ok || !queryapi.Logged(md) || c.Response().StatusCode() != fiber.StatusOK {
			return nil
		}
		var rec schema.PersonalDataAccessed
		var err error
		switch c.Route().Path {
		case documentRoute:
			rec, err = a.documentRead(c)
		case policyPDFRoute:
			rec, err = a.policyRead(c)
		default:
			return nil
		}
		if err == nil {
			_, err = access.Record(c, md, rec)
		}
		if err != nil {
			a.log.ErrorContext(c.UserContext(), "staff read refused: the access log could not record it",
				"route", c.Route().Path, "err", err)
			c.Response().ResetBody()
			c.Response().Header.Del(fiber.HeaderContentDisposition)
			c.Response().Header.Del(fiber.HeaderETag)
			return queryapi.Unrecorded(c)
		}
		return nil
	})
}

// documentRead describes a scan read: the scan, its kind and its owner.
// The applications it belongs to are resolved by the history projection,
// which indexes the scans of every form.
func (a *App) documentRead(c *fiber.Ctx) (schema.PersonalDataAccessed, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return schema.PersonalDataAccessed{}, fmt.Errorf("app: access log: document id: %w", err)
	}
	recs, err := a.events.LoadFrom(c.UserContext(), schema.DocumentStream(id.String()), 0, 1)
	if err != nil {
		return schema.PersonalDataAccessed{}, fmt.Errorf("app: access log: load document: %w", err)
	}
	if len(recs) == 0 {
		return schema.PersonalDataAccessed{}, errors.New("app: access log: the document served has no upload record")
	}
	p, err := schema.Decode(recs[0].Envelope.Type, recs[0].Envelope.SchemaVersion, recs[0].Data)
	if err != nil {
		return schema.PersonalDataAccessed{}, fmt.Errorf("app: access log: %w", err)
	}
	up, ok := p.(schema.DocumentUploaded)
	if !ok {
		return schema.PersonalDataAccessed{}, fmt.Errorf("app: access log: document stream starts with %s", recs[0].Envelope.Type)
	}
	return schema.PersonalDataAccessed{ApplicantID: up.OwnerID, DocumentID: up.DocumentID, What: schema.AccessDocument + up.Kind}, nil
}

// policyRead describes a policy extract read by the policy's application.
func (a *App) policyRead(c *fiber.Ctx) (schema.PersonalDataAccessed, error) {
	d, err := a.store.Get(c.UserContext(), policies.Collection, c.Params("enp"))
	if err != nil {
		return schema.PersonalDataAccessed{}, fmt.Errorf("app: access log: policy: %w", err)
	}
	var p policies.Doc
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return schema.PersonalDataAccessed{}, fmt.Errorf("app: access log: policy: %w", err)
	}
	return schema.PersonalDataAccessed{ApplicationIDs: []string{p.ApplicationID}, ApplicantID: p.ApplicantID, What: schema.AccessPolicyPDF}, nil
}
