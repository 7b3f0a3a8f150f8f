// Package httpapi is the command side of the HTTP API on Fiber v2: it turns
// requests into application commands and uploads, runs them through
// command/service and command/document, and answers with
// {applicationId, revision, position} or an RFC 9457 problem document in
// Russian and English.
//
// Authentication is not done here: a middleware in front puts the caller's
// events.Metadata into c.UserContext() with events.WithMetadata, and a
// request without it is answered 401.
package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/command/httpapi/reqbody"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/events"
)

// DefaultJSONBodyLimit bounds command bodies when Deps.JSONBodyLimit is 0:
// a full form with long answers is a few kilobytes.
const DefaultJSONBodyLimit = 256 << 10

// MinAppBodyLimit is the smallest fiber.Config.BodyLimit that lets a
// maximal upload (document.MaxSize plus multipart overhead) reach the
// handler, which then answers oversize with a clear 413 itself.
const MinAppBodyLimit = document.MaxSize + 1<<20

// Deps are what the handlers need.
type Deps struct {
	Commands  *service.Service
	Documents *document.Service
	// Logger receives server errors; nil means slog.Default().
	Logger *slog.Logger
	// JSONBodyLimit bounds JSON command bodies; 0 means DefaultJSONBodyLimit.
	JSONBodyLimit int
	// MaxUploads bounds the scans processed at once (see uploadSlots); 0
	// means DefaultMaxUploads. UploadWait bounds how long an upload waits
	// for its turn before it is refused with 503; 0 means
	// DefaultUploadWait.
	MaxUploads int
	UploadWait time.Duration
	// Visits, when set, mounts the МФЦ visit routes (visits.go).
	Visits Visits
}

// Defaults of Deps.MaxUploads and Deps.UploadWait.
const (
	DefaultMaxUploads = 4
	DefaultUploadWait = 20 * time.Second
)

type handlers struct {
	Deps
	// uploadSlots holds one token per upload being processed. Checking
	// and sealing a scan keeps four to five copies of it in memory (the
	// form's file, the bytes read, the sealed copy, the blob store's
	// buffer): 16 parallel uploads of 10 MB held 1.1 GB (security QA).
	uploadSlots chan struct{}
}

// Register mounts the command routes on router:
//
//	POST /api/v1/applications
//	POST /api/v1/applications/:id/{claim|release|request-info|provide-info|approve|reject|issue-policy|change-address|renew|withdraw|withdraw-consent}
//	POST /api/v1/documents
//	GET  /api/v1/documents/:id
//	POST /api/v1/visits, /api/v1/visits/code, /api/v1/visits/close (with Deps.Visits)
//
// and Consent serves GET /api/v1/consent, which needs no sign-in.
//
// The app should use ErrorHandler and a BodyLimit of at least
// MinAppBodyLimit, and stream request bodies (StreamRequestBody and
// DisablePreParseMultipartForm, see reqbody): handlers read them under
// their own bounds, an upload only once it has a slot.
func Register(router fiber.Router, deps Deps) error {
	if deps.Commands == nil || deps.Documents == nil {
		return errors.New("httpapi: Commands and Documents are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.JSONBodyLimit <= 0 {
		deps.JSONBodyLimit = DefaultJSONBodyLimit
	}
	if deps.MaxUploads <= 0 {
		deps.MaxUploads = DefaultMaxUploads
	}
	if deps.UploadWait <= 0 {
		deps.UploadWait = DefaultUploadWait
	}
	h := &handlers{Deps: deps, uploadSlots: make(chan struct{}, deps.MaxUploads)}
	router.Post("/api/v1/applications", h.submit)
	for _, action := range Actions {
		router.Post("/api/v1/applications/:id/"+action, h.action(action))
	}
	router.Post("/api/v1/documents", h.upload)
	router.Get("/api/v1/documents/:id", h.download)
	if deps.Visits != nil {
		h.registerVisits(router)
	}
	return nil
}

// ConsentDocument is the consent text in force, which a form's
// consentVersion names and an application's ConsentGiven hashes.
type ConsentDocument struct {
	Version    string      `json:"version"`
	TextSHA256 string      `json:"textSha256"`
	Text       cmderr.Text `json:"text"`
}

// Consent serves the consent text in force; people read it before they
// sign in, so the app mounts it ahead of authentication.
func Consent(c *fiber.Ctx) error {
	return c.JSON(ConsentDocument{Version: application.ConsentVersion, TextSHA256: application.ConsentTextSHA256, Text: application.ConsentText})
}

func errUnauthenticated() error {
	return cmderr.New(cmderr.Unauthenticated, "unauthenticated", cmderr.T("Войдите в систему.", "Sign in first."))
}

func badRequest(code string, ru, en string) error {
	return cmderr.New(cmderr.BadRequest, code, cmderr.T(ru, en))
}

// caller reads the metadata the auth middleware attached.
func caller(c *fiber.Ctx) (events.Metadata, error) {
	m, ok := events.MetadataFrom(c.UserContext())
	if !ok || m.Actor.ID == "" || m.Actor.Role == "" {
		return events.Metadata{}, errUnauthenticated()
	}
	return m, nil
}

// request builds the service request from the headers.
func (h *handlers) request(c *fiber.Ctx) (service.Request, error) {
	m, err := caller(c)
	if err != nil {
		return service.Request{}, err
	}
	req := service.Request{Meta: m}
	// Fiber reads the first of repeated headers; two revisions or two
	// keys leave the request's meaning to chance.
	for _, h := range []string{"If-Match", "Idempotency-Key"} {
		if len(c.Request().Header.PeekAll(h)) > 1 {
			return req, badRequest("repeated_header",
				fmt.Sprintf("Заголовок %s указан несколько раз; укажите его один раз.", h),
				fmt.Sprintf("The header %s is given more than once; give it once.", h))
		}
	}
	if v := strings.TrimSpace(c.Get("If-Match")); v != "" && v != "*" {
		rev, err := parseRevision(v)
		if err != nil {
			return req, err
		}
		req.IfMatch = &rev
	}
	if key := c.Get("Idempotency-Key"); key != "" {
		if len(key) > service.MaxIdempotencyKeyLen || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			return req, badRequest("bad_idempotency_key",
				fmt.Sprintf("Idempotency-Key — от 1 до %d видимых ASCII-символов.", service.MaxIdempotencyKeyLen),
				fmt.Sprintf("The Idempotency-Key must be 1 to %d visible ASCII characters.", service.MaxIdempotencyKeyLen))
		}
		req.IdempotencyKey = strings.Clone(key) // Fiber reuses header memory
	}
	return req, nil
}

// parseRevision reads an If-Match value: a revision as a bare number or as
// an entity tag ("5", W/"5"), which is what ETag answers carry.
func parseRevision(v string) (uint64, error) {
	s := strings.TrimPrefix(v, "W/")
	s = strings.TrimSuffix(strings.TrimPrefix(s, `"`), `"`)
	rev, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest("bad_if_match",
			"If-Match должен содержать ревизию заявления, например \"5\".",
			"If-Match must carry the application's revision, e.g. \"5\".")
	}
	return rev, nil
}

// jsonBody returns the body of a JSON request after the size, media type
// and encoding checks.
func (h *handlers) jsonBody(c *fiber.Ctx) ([]byte, error) {
	ok, err := reqbody.Load(c, h.JSONBodyLimit)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cmderr.New(cmderr.TooLarge, "body_too_large", cmderr.T(
			fmt.Sprintf("Тело запроса больше %d КБ.", h.JSONBodyLimit>>10),
			fmt.Sprintf("The request body is larger than %d KB.", h.JSONBodyLimit>>10)))
	}
	if err := CheckJSONBody(c); err != nil {
		return nil, err
	}
	return c.Body(), nil
}

// CheckJSONBody refuses a request body that is not JSON in UTF-8: another
// media type or charset, or bytes that are not UTF-8. The admin API's
// bodies go through it as the commands' do.
func CheckJSONBody(c *fiber.Ctx) error {
	body := c.Body()
	if len(body) == 0 {
		return nil
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return cmderr.New(cmderr.Unsupported, "unsupported_media_type", cmderr.T(
				"Тело запроса должно быть application/json.", "The request body must be application/json."))
		}
		if cs, ok := params["charset"]; ok && !utf8Charset(cs) {
			return cmderr.New(cmderr.Unsupported, "unsupported_charset", cmderr.T(
				"JSON принимается только в кодировке UTF-8.", "JSON is accepted in UTF-8 only."))
		}
	}
	// encoding/json turns bytes that are not UTF-8 into U+FFFD without a
	// word: a name sent in Latin-1 or CP1251 would be stored as question
	// marks.
	if !utf8.Valid(body) {
		return cmderr.New(cmderr.BadRequest, "malformed_json", cmderr.T(
			"Тело запроса не в кодировке UTF-8. Сохраните или отправьте его в UTF-8.",
			"The request body is not UTF-8. Save or send it as UTF-8."))
	}
	return nil
}

// utf8Charset accepts the names clients give UTF-8, and US-ASCII, which
// is a subset of it.
func utf8Charset(cs string) bool {
	switch strings.ToLower(cs) {
	case "utf-8", "utf8", "us-ascii":
		return true
	}
	return false
}

func (h *handlers) fail(c *fiber.Ctx, err error) error {
	return writeProblem(c, h.Logger, err)
}

func respond(c *fiber.Ctx, status int, res service.Result) error {
	c.Set(fiber.HeaderETag, `"`+strconv.FormatUint(res.Revision, 10)+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(res)
}

func (h *handlers) submit(c *fiber.Ctx) error {
	req, err := h.request(c)
	if err != nil {
		return h.fail(c, err)
	}
	body, err := h.jsonBody(c)
	if err != nil {
		return h.fail(c, err)
	}
	form, err := DecodeSubmit(body)
	if err != nil {
		return h.fail(c, err)
	}
	res, err := h.Commands.Submit(c.UserContext(), req, form)
	if err != nil {
		return h.fail(c, err)
	}
	c.Location("/api/v1/applications/" + res.ApplicationID)
	return respond(c, fiber.StatusCreated, res)
}

func (h *handlers) action(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req, err := h.request(c)
		if err != nil {
			return h.fail(c, err)
		}
		body, err := h.jsonBody(c)
		if err != nil {
			return h.fail(c, err)
		}
		cmd, err := commandFor(action, body)
		if err != nil {
			return h.fail(c, err)
		}
		res, err := h.Commands.Handle(c.UserContext(), req, strings.Clone(c.Params("id")), cmd)
		if err != nil {
			return h.fail(c, err)
		}
		return respond(c, fiber.StatusOK, res)
	}
}

// uploadResponse is the answer to an upload.
type uploadResponse struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// SHA256 is the hex SHA-256 of the bytes uploaded (what sha256sum
	// prints for the file), not the id of the sealed blob they are
	// stored as.
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
}

// afterBodyKey holds the check SetAfterBody gives a request.
type afterBodyKey struct{}

// SetAfterBody gives a request whose body its handler streams a check to
// run once the body is read, before anything is stored: the access
// middleware checks an МФЦ operator's visit again there, since a slow
// upload can outlast it. refused means the check answered the request.
func SetAfterBody(c *fiber.Ctx, check func(*fiber.Ctx) (refused bool, err error)) {
	c.Locals(afterBodyKey{}, check)
}

// AfterBody runs the check SetAfterBody gave the request, if any; refused
// means it answered the request.
func AfterBody(c *fiber.Ctx) (bool, error) {
	if check, ok := c.Locals(afterBodyKey{}).(func(*fiber.Ctx) (bool, error)); ok {
		return check(c)
	}
	return false, nil
}

func (h *handlers) upload(c *fiber.Ctx) error {
	m, err := caller(c)
	if err != nil {
		return h.fail(c, err)
	}
	mt, params, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if mt != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return h.fail(c, cmderr.New(cmderr.Unsupported, "multipart_required", cmderr.T(
			"Загрузите файл как multipart/form-data с полями file и kind.",
			"Upload the file as multipart/form-data with the fields file and kind.")))
	}
	// The slot first, then the body: it is read only now, as it arrives
	// (reqbody), so uploads waiting for a slot hold no memory, and at most
	// MaxUploads scans are in memory at once.
	wait := time.NewTimer(h.UploadWait)
	defer wait.Stop()
	select {
	case h.uploadSlots <- struct{}{}:
		defer func() { <-h.uploadSlots }()
	case <-wait.C:
		c.Set(fiber.HeaderRetryAfter, "10")
		return h.fail(c, cmderr.New(cmderr.Unavailable, "uploads_busy", cmderr.T(
			"Сейчас загружается слишком много файлов. Повторите загрузку через несколько секунд.",
			"Too many files are being uploaded right now. Upload again in a few seconds.")))
	case <-c.UserContext().Done():
		return h.fail(c, c.UserContext().Err())
	}
	form, err := readUpload(reqbody.Reader(c, MinAppBodyLimit), params["boundary"], c.Query("kind"))
	if err != nil {
		return h.fail(c, err)
	}
	if refused, err := AfterBody(c); refused || err != nil {
		return err
	}
	doc, err := h.Documents.Upload(c.UserContext(), m, form.kind, bytes.NewReader(form.file))
	if err != nil {
		return h.fail(c, err)
	}
	c.Location("/api/v1/documents/" + doc.DocumentID)
	return c.Status(fiber.StatusCreated).JSON(uploadResponse{
		ID: doc.DocumentID, Kind: doc.Kind, SHA256: doc.ContentSHA256, Size: doc.Size, ContentType: doc.ContentType,
	})
}

// uploadForm is what an upload's multipart body carries.
type uploadForm struct {
	kind string
	file []byte
}

// maxKindField bounds the kind field: the longest kind is a few letters.
const maxKindField = 256

// readUpload reads an upload's multipart body: one file in the field file
// (at most document.MaxSize) and its kind, from the field kind or from
// ?kind= (queryKind). Every part is read before anything is refused, so
// that every mistake is named at once.
func readUpload(body io.Reader, boundary, queryKind string) (uploadForm, error) {
	var form uploadForm
	var f cmderr.Fields
	files, kinds := 0, 0
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF { //nolint:errorlint // the end itself; a body cut short is an error wrapping io.EOF
			break
		}
		if err != nil {
			return form, uploadReadError(err)
		}
		switch part.FormName() {
		case "file":
			files++
			if files > 1 {
				// One file of one kind per upload: of two, the first
				// would be stored and the other dropped without a word.
				f.Add("/file", "repeated_field", cmderr.T("Загрузите один файл за раз: поле file указано несколько раз.",
					"Upload one file at a time: the field file appears more than once."))
				_, err = io.Copy(io.Discard, part)
				break
			}
			var buf bytes.Buffer
			var n int64
			n, err = buf.ReadFrom(io.LimitReader(part, document.MaxSize+1))
			if err == nil && n > document.MaxSize {
				return form, document.TooLargeError()
			}
			form.file = buf.Bytes()
		case "kind":
			kinds++
			var b []byte
			b, err = io.ReadAll(io.LimitReader(part, maxKindField+1))
			if err == nil && len(b) > maxKindField {
				// Refused, not cut: a kind cut at the bound and then
				// trimmed was taken as the kind it began with (QA).
				_, err = io.Copy(io.Discard, part)
				f.Add("/kind", "too_long", cmderr.T(
					fmt.Sprintf("Поле kind длиннее %d байт: укажите вид документа (passport, residence_document, consent).", maxKindField),
					fmt.Sprintf("The field kind is longer than %d bytes: give the kind of document (passport, residence_document, consent).", maxKindField)))
				b = nil
			}
			if kinds == 1 {
				form.kind = string(b)
			}
		default:
			// Refused as a JSON body's unknown member is: dropped, a
			// field the sender meant something by went nowhere (QA).
			f.Add("/"+escapePointer(part.FormName()), "unknown_field", cmderr.T(
				"Загрузка принимает только поля file и kind.", "An upload takes the fields file and kind only."))
			_, err = io.Copy(io.Discard, part)
		}
		if err != nil {
			return form, uploadReadError(err)
		}
	}
	// Compared as the kind is read (trimmed): the same kind written with
	// spaces is not two (QA).
	if kinds > 1 || (kinds == 1 && queryKind != "" && strings.TrimSpace(queryKind) != strings.TrimSpace(form.kind)) {
		f.Add("/kind", "repeated_field", cmderr.T("Поле kind указано несколько раз; укажите один вид документа.",
			"The field kind appears more than once; give one kind of document."))
	}
	if queryKind != "" {
		form.kind = queryKind
	}
	if files == 0 {
		f.Add("/file", "required", cmderr.T("Приложите файл в поле file.", "Attach the file in the field file."))
	}
	if kinds == 0 && strings.TrimSpace(queryKind) == "" {
		// Said with the file's mistakes, not after them (QA).
		f.Add("/kind", "required", cmderr.T("Укажите вид документа в поле kind: passport, residence_document или consent.",
			"Give the kind of document in the field kind: passport, residence_document or consent."))
	}
	return form, f.Err()
}

// uploadReadError says why an upload's body could not be read: too long,
// or not the multipart/form-data its header declared.
func uploadReadError(err error) error {
	if errors.Is(err, reqbody.ErrTooLarge) {
		return document.TooLargeError()
	}
	return cmderr.New(cmderr.BadRequest, "malformed_multipart", malformedMultipart)
}

var extensions = map[string]string{document.TypePDF: "pdf", document.TypeJPEG: "jpg", document.TypePNG: "png"}

func (h *handlers) download(c *fiber.Ctx) error {
	m, err := caller(c)
	if err != nil {
		return h.fail(c, err)
	}
	rc, doc, err := h.Documents.Open(c.UserContext(), m, strings.Clone(c.Params("id")))
	if err != nil {
		return h.fail(c, err)
	}
	name := doc.Kind + "-" + doc.DocumentID + "." + extensions[doc.ContentType]
	c.Set(fiber.HeaderContentType, doc.ContentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	// The digest of the bytes served, as the upload reported it; the
	// blob's id (doc.SHA256) differs at every upload of the same file.
	c.Set(fiber.HeaderETag, `"`+doc.ContentSHA256+`"`)
	// fasthttp closes the stream once it is sent.
	return c.SendStream(rc, int(doc.Size))
}
