// Package openapi describes omsd's HTTP API as an OpenAPI 3 document,
// served at /api/openapi.json. The operations are a table here; their
// request and response schemas are derived from the very Go types the
// handlers decode and encode, so a field added to a command or a read
// model shows up in the document without anyone remembering to. A test in
// cmd/internal/app checks the table against the routes Fiber registered.
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/cmd/internal/admin"
	"github.com/omsonline/oms/command/application"
	commandapi "github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/command/service"
	"github.com/omsonline/oms/command/visit"
	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/cabinet"
	"github.com/omsonline/oms/projections/history"
	queryapi "github.com/omsonline/oms/query/httpapi"
)

// Path is where the document is served.
const Path = "/api/openapi.json"

// param is a query or header parameter.
type param struct {
	in, name, desc string
	typ            string // string, integer or boolean
}

// Operation is one method and path of the API.
type Operation struct {
	Method string
	// Path is in Fiber's syntax (/applications/:id), as registered.
	Path string
	tag  string
	sum  string
	desc string
	// body is a value of the JSON request body's type; upload marks the
	// multipart upload instead.
	body   any
	upload bool
	params []param
	status int // success status
	// resp is a value of the JSON answer's type; media overrides the
	// answer's media types for non-JSON answers.
	resp  any
	media []string
	// public operations need no caller.
	public bool
	// command operations take If-Match and Idempotency-Key.
	command bool
	// audited operations record a staff caller's read in the access log
	// first, and answer 503 when it cannot be recorded.
	audited bool
	// more are answers of this operation alone, beyond those the flags
	// above imply.
	more []answer
	// accepted, when set, says when the operation answers 202 with the
	// same body instead of its success status.
	accepted string
}

// answer is one documented refusal, a problem document.
type answer struct {
	status int
	desc   string
}

var afterParam = param{"query", "after", "Read-your-writes: wait (up to 5 s, else 503 with Retry-After) until the read model has passed this $all position, as returned by a command. A position past the end of the event log is refused at once with 400.", "integer"}

// Operations lists every operation the document describes.
func Operations() []Operation {
	ops := []Operation{
		{Method: "GET", Path: Path, tag: "meta", sum: "This OpenAPI document", status: 200, resp: map[string]any{}, public: true},
		{Method: "GET", Path: "/healthz", tag: "meta", sum: "Liveness: the process is up", status: 200, media: []string{"text/plain"}, public: true},
		{Method: "GET", Path: "/readyz", tag: "meta", sum: "Readiness: stores open; says whether the projections run on this node", status: 200, media: []string{"text/plain"}, public: true,
			more: []answer{{503, text("Узел не готов: хранилище событий или хранилище данных не ответило за 2 с; балансировщик не шлёт ему запросы.", "The node is not ready: the event store or the read-model store did not answer within 2 s; a load balancer sends it no requests.")}}},
		{Method: "GET", Path: "/metrics", tag: "meta", sum: "Prometheus metrics", status: 200, media: []string{"text/plain; version=0.0.4"}, public: true},

		{Method: "POST", Path: "/api/v1/documents", tag: "documents", sum: "Upload a scan (PDF, JPEG or PNG, up to 10 MB)",
			desc: "Multipart form with the fields kind and file. The answer's id goes into an application's documents.", upload: true, status: 201, resp: uploadResponse{},
			more: []answer{{409, text("Персональные данные владельца удалены (applicant_erased); скан не сохранён.", "The owner's personal data were erased (applicant_erased); the scan was not kept.")}}},
		{Method: "GET", Path: "/api/v1/documents/:id", tag: "documents", sum: "Download a scan (its owner, reviewers, auditors)", status: 200,
			media: []string{"application/pdf", "image/jpeg", "image/png"}, audited: true},

		{Method: "POST", Path: "/api/v1/applications", tag: "commands", sum: "SubmitApplication: open an application (applicant, or MFC operator with X-On-Behalf-Of)",
			body: schema.Form{}, status: 201, resp: schema.CommandResult{}, command: true},
	}
	actions := map[string]struct {
		body any
		sum  string
	}{
		"claim":            {application.ClaimForReview{}, "ClaimForReview: the calling reviewer takes the application"},
		"release":          {application.ReleaseClaim{}, "ReleaseClaim: the assigned reviewer, or an administrator (with a reason), lets the application go: one in review back to the queue, one waiting on the applicant or approved stays so until another reviewer claims it"},
		"request-info":     {application.RequestInfo{}, "RequestInfo: the assigned reviewer asks the applicant questions"},
		"provide-info":     {application.ProvideInfo{}, "ProvideInfo: the applicant answers, corrects the form, adds scans"},
		"approve":          {application.Approve{}, "Approve: the assigned reviewer's positive decision"},
		"reject":           {application.Reject{}, "Reject: the assigned reviewer's negative decision with a reason"},
		"issue-policy":     {application.IssuePolicy{}, "IssuePolicy: issue the policy of an approved application (an ENP is reserved)"},
		"change-address":   {application.ChangeAddress{}, "ChangeAddress: a new address; the policy document is reissued"},
		"renew":            {application.Renew{}, "Renew: a new policy term within the renewal window, optionally with a new residence document"},
		"withdraw":         {application.Withdraw{}, "Withdraw: the applicant takes the application back before a decision"},
		"withdraw-consent": {application.WithdrawConsent{}, "WithdrawConsent: the applicant withdraws the consent to processing personal data (Federal Law 152-FZ, art. 9); an open application closes, an issued policy's record is kept as the law requires"},
	}
	for _, a := range commandapi.Actions {
		act, ok := actions[a]
		if !ok {
			act.sum = a
		}
		ops = append(ops, Operation{Method: "POST", Path: "/api/v1/applications/:id/" + a, tag: "commands", sum: act.sum,
			body: act.body, status: 200, resp: schema.CommandResult{}, command: true})
	}
	ops = append(ops,
		Operation{Method: "GET", Path: "/api/v1/cabinet", tag: "queries", sum: "The applicant's cabinet: applications, policy, inbox",
			params: []param{afterParam, {"query", "applicant", "The applicant an MFC operator looks at (operators only).", "string"}}, status: 200, resp: cabinet.Doc{}, audited: true},
		Operation{Method: "GET", Path: "/api/v1/reviewer/queue", tag: "queries", sum: "The reviewers' queue, by deadline (staff)",
			desc: "Running applications by deadline, then those waiting on their applicants (no deadline runs while they wait), most overdue and then fewest working days left first. " +
				"Each page shows the queue as it is when the page is read: the cursor continues after the last row's place, under the filters it came with only (400 cursor_filters under others). An application whose place moved later since can show again on a later page; one that moved to a place before the cursor since the previous page (an applicant's answer takes it from the waiting tail back to its deadline), or changed there, is listed under earlier on the next page.",
			params: []param{afterParam,
				{"query", "status", "Comma-separated statuses, of: " + strings.Join(queryapi.QueueStatuses, ", ") + "; empty or absent: all.", "string"},
				{"query", "region", "Two-digit region code.", "string"},
				{"query", "assignee", "me, none (unassigned), or a reviewer id; empty or absent: anyone's.", "string"},
				{"query", "overdue", "Only overdue (true) or only on time (false).", "boolean"},
				{"query", "limit", "Page size, 1 to 200 (default 50).", "integer"},
				{"query", "cursor", "nextCursor of the previous page.", "string"}},
			status: 200, resp: queryapi.QueuePage{}, audited: true},
		Operation{Method: "GET", Path: "/api/v1/applications/:id", tag: "queries", sum: "One application (its owner's view for applicants and operators)",
			desc:   "Staff also get the review deadline while the application is in the queue.",
			params: []param{afterParam}, status: 200, resp: queryapi.StaffView{}, audited: true},
		Operation{Method: "GET", Path: "/api/v1/applications/by-number/:number", tag: "audit", sum: "The ids of the applications with a number, the last 8 hex digits of an id that the pages show (staff)",
			desc:   "Usually one; two share a number 1 time in 4 billion. 400 bad_number for anything but 8 characters 0-9a-f, 404 when none has it.",
			params: []param{afterParam}, status: 200, resp: queryapi.NumberMatches{}},
		Operation{Method: "GET", Path: "/api/v1/applications/:id/history", tag: "audit", sum: "The audit timeline: every event with actor, on-behalf-of, correlation and diff (staff)",
			desc: "Oldest first, in pages of up to 1000 entries; nextCursor is set when a page is full. revision and at belong to /state and are refused here (400 use_state).",
			params: []param{afterParam,
				{"query", "limit", "Page size, 1 to 1000 (default 1000).", "integer"},
				{"query", "cursor", "nextCursor of the previous page.", "string"}},
			status: 200, resp: historyPage{}, audited: true},
		Operation{Method: "GET", Path: "/api/v1/applications/:id/state", tag: "audit", sum: "Time travel: the application folded from its events up to a revision or a time (auditors)",
			desc:   "Give revision or at, not both (400). Without either, the application's last state.",
			params: []param{{"query", "revision", "Fold up to this stream revision.", "integer"}, {"query", "at", "Fold the events that occurred at or before this RFC 3339 time; without a fraction of a second, up to the end of that second, as times are shown.", "string"}},
			status: 200, resp: queryapi.State{}, audited: true,
			more: []answer{{404, text("Нет заявления, нет такой ревизии (no_such_revision: detail называет существующие) или заявления на этот момент ещё не было (before_first_event).",
				"No such application, no such revision (no_such_revision: the detail names those that exist), or the application did not exist yet at that time (before_first_event).")}}},
		Operation{Method: "GET", Path: "/api/v1/applications/:id/access", tag: "audit", sum: "The staff access log: who of the staff read the application's personal data, what and when, oldest first (auditors)",
			desc: "One entry per recorded read: the actor and role, on whose behalf (MFC operators), what was read (application, history, state, queue, cabinet, policy_pdf, document:<kind>), the route and the time.",
			params: []param{afterParam,
				{"query", "limit", "Page size, 1 to 1000 (default 100).", "integer"},
				{"query", "cursor", "nextCursor of the previous page.", "string"}},
			status: 200, resp: queryapi.AccessPage{}},
		Operation{Method: "GET", Path: "/api/v1/applicants/:id/access", tag: "audit", sum: "A person's access log: every staff read of their data, any application, cabinet, scan or policy, oldest first (auditors)",
			desc: "The entries of the applications' logs, once per read, with applicantId and the person's applicationIds it served; scans never put into a form are here too. A person nobody of the staff read has an empty log. An id with a slash is sent as %2F.",
			params: []param{afterParam,
				{"query", "limit", "Page size, 1 to 1000 (default 100).", "integer"},
				{"query", "cursor", "nextCursor of the previous page.", "string"}},
			status: 200, resp: queryapi.ApplicantAccessPage{},
			more: []answer{{400, text("Неверный идентификатор заявителя (bad_applicant).", "Invalid applicant id (bad_applicant).")}}},
		Operation{Method: "GET", Path: "/api/v1/policies/:enp/pdf", tag: "queries", sum: "The policy extract as PDF with a verification QR code",
			params: []param{afterParam}, status: 200, media: []string{"application/pdf"}, audited: true},

		Operation{Method: "GET", Path: "/api/v1/admin/projections", tag: "admin", sum: "Position, lag, generation and rebuild progress of every projection", status: 200, resp: []admin.ProjectionStatus{}},
		Operation{Method: "POST", Path: "/api/v1/admin/projections/:name/rebuild", tag: "admin", sum: "Rebuild a projection blue/green in the background", status: 202, resp: admin.Rebuild{},
			more: []answer{{400, text("Тело, если оно есть, — не JSON-объект.", "The body, if any, is not a JSON object.")}, {409, text("Перестройка уже идёт.", "A rebuild is already running.")}}},
		Operation{Method: "GET", Path: "/api/v1/admin/parked", tag: "admin", sum: "Messages the projections parked after their retries", status: 200, resp: []admin.ParkedRow{}},
		Operation{Method: "POST", Path: "/api/v1/admin/projections/:name/replay-parked", tag: "admin", sum: "Re-apply a projection's parked messages after a fix", status: 200, resp: replayResult{},
			more: []answer{{409, text("Сообщение снова не применилось (replay_failed; detail говорит, сколько применилось до него) или проекции работают на другом узле (not_leader).",
				"A message failed again (replay_failed; the detail says how many were replayed before it), or the projections run on another node (not_leader).")}}},
		Operation{Method: "GET", Path: "/api/v1/admin/erasures", tag: "admin", sum: "Applications whose consent was withdrawn and whose applicant's data are not erased yet, by the day they must be (30 days; after a kept policy record's retention)",
			desc: "Reads the event log's ConsentWithdrawn events (filtered by the server) and each application's view: seconds for a large log.", status: 200, resp: []admin.DueErasure{}},
		Operation{Method: "POST", Path: "/api/v1/admin/applicants/:id/erase", tag: "admin",
			sum:  "EraseApplicantData: destroy the applicant's data key, delete their scans and record the erasure in each application (Federal Law 152-FZ, art. 21)",
			desc: "Refused (409) while an application is being processed or an issued policy's record must still be kept. 200 once every read model shows the erasure; 202 if the erasure is recorded but the read models have not caught up yet.",
			body: eraseBody{}, status: 200, resp: admin.ErasureResponse{},
			accepted: "The erasure is recorded, but the read models have not caught up yet; they will show it.",
			more: []answer{
				{409, text("Заявление ещё рассматривается, сведения о полисе ещё надо хранить, у заявителя есть заявления, которых ещё нет в его кабинете (applications_not_listed), или основание consent_withdrawn, а согласие не отзывалось (consent_not_withdrawn).",
					"An application is being processed, an issued policy's record must still be kept, the applicant has applications their cabinet does not show yet (applications_not_listed), or the basis is consent_withdrawn and no consent was withdrawn (consent_not_withdrawn).")},
				{404, text("Нет ни заявлений, ни загруженных сканов (applicant_not_found).", "Neither applications nor uploaded scans (applicant_not_found).")},
				{503, text("Поиск загруженных сканов в журнале событий не уложился в OMS_ERASURE_SCAN_TIMEOUT (upload_scan_timeout); ничего не удалено.",
					"Finding the uploaded scans in the event log took longer than OMS_ERASURE_SCAN_TIMEOUT (upload_scan_timeout); nothing was erased.")},
				{422, text("Неизвестное основание (basis), значение не того типа или поле, которого нет.", "An unknown basis, a value of the wrong type, or a member the body does not have.")},
			}},
		Operation{Method: "POST", Path: "/api/v1/visits/code", tag: "visits", sum: "The applicant takes a one-time code to show an MFC operator (6 digits, 15 minutes)",
			desc: "The newest 3 codes are good together (a code taken again while the operator types the first one does not void it); 5 wrong tries against the live codes void them all. Only a keyed digest of each is stored.", body: map[string]any{}, status: 201, resp: visit.Code{}},
		Operation{Method: "POST", Path: "/api/v1/visits", tag: "visits", sum: "An MFC operator opens a visit with the applicant's code; for 4 hours they may act for that applicant",
			desc: "Every request an operator makes for an applicant (X-On-Behalf-Of or ?applicant=) is refused with 403 visit_required without an open visit.",
			body: commandapi.OpenVisit{}, status: 201, resp: visit.Visit{},
			more: []answer{
				{409, text("У заявителя нет действующего кода (visit_code_absent) или код аннулирован после 5 неверных попыток (visit_code_voided).",
					"The applicant has no valid code (visit_code_absent), or it was voided after 5 wrong tries (visit_code_voided).")},
				{422, text("Идентификатор заявителя или код не той формы.", "The applicant's id or the code is malformed.")},
			}},
		Operation{Method: "POST", Path: "/api/v1/visits/close", tag: "visits", sum: "End visits: an operator their own (X-On-Behalf-Of), the applicant every operator's and the unused code",
			body: map[string]any{}, status: 200, resp: commandapi.CloseVisitResult{}},
		Operation{Method: "GET", Path: "/api/v1/visits", tag: "visits", sum: "An MFC operator's own visits open now, the latest opened first",
			desc:   "The applicants' ids and the visits' times, to go back to an applicant or end a visit no longer needed; a visit past its until is not listed.",
			params: []param{afterParam}, status: 200, resp: queryapi.OpenVisits{}},
		Operation{Method: "GET", Path: "/api/v1/consent", tag: "commands", sum: "The consent text in force (ru/en), its version and hash; no sign-in needed",
			status: 200, resp: commandapi.ConsentDocument{}},
	)
	return ops
}

// Mirrors of answers the handlers build inline.
type (
	uploadResponse struct {
		ID          string `json:"id"`
		Kind        string `json:"kind"`
		SHA256      string `json:"sha256"`
		Size        int64  `json:"size"`
		ContentType string `json:"contentType"`
	}
	historyPage struct {
		ApplicationID string          `json:"applicationId"`
		Entries       []history.Entry `json:"entries"`
		NextCursor    string          `json:"nextCursor,omitempty"`
	}
	replayResult struct {
		Replayed int    `json:"replayed"`
		Error    string `json:"error,omitempty"`
	}
)

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// PathOf turns a Fiber path into an OpenAPI one: /a/:id → /a/{id}.
func PathOf(fiberPath string) string { return fiberParam.ReplaceAllString(fiberPath, "{$1}") }

func text(ru, en string) string { return en + " / " + ru }

// Document builds the OpenAPI document.
func Document() map[string]any {
	s := newSchemas()
	s.comps["Problem"] = s.object(reflectOf(commandapi.Problem{}))
	problem := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{
			"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	}
	paths := map[string]any{}
	for _, op := range Operations() {
		p := PathOf(op.Path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		o := map[string]any{
			"summary":     op.sum,
			"tags":        []string{op.tag},
			"operationId": operationID(op),
		}
		if op.desc != "" {
			o["description"] = op.desc
		}
		var params []any
		for _, m := range fiberParam.FindAllStringSubmatch(op.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.params {
			params = append(params, map[string]any{"name": q.name, "in": q.in, "description": q.desc, "schema": map[string]any{"type": q.typ}})
		}
		if op.command {
			params = append(params,
				map[string]any{"name": "If-Match", "in": "header", "description": "Optimistic concurrency: the revision the caller last saw (\"5\" or an ETag); 409 if it moved on.", "schema": map[string]any{"type": "string"}},
				map[string]any{"name": "Idempotency-Key", "in": "header", "description": "Repeat-safe retries: the same key answers the first result.", "schema": map[string]any{"type": "string", "maxLength": service.MaxIdempotencyKeyLen}},
			)
		}
		if !op.public {
			params = append(params,
				map[string]any{"name": "X-On-Behalf-Of", "in": "header", "description": "The applicant an MFC operator acts for (operators only, during a visit the applicant opened: POST /api/v1/visits).", "schema": map[string]any{"type": "string"}},
				map[string]any{"name": "X-Correlation-ID", "in": "header", "description": "An id tying this request to others of one flow, a UUID or up to 128 of [A-Za-z0-9-_.:]; it goes into the events' envelopes. Generated when absent; anything else is refused with 400 (bad_correlation_id).", "schema": map[string]any{"type": "string", "maxLength": 128}},
			)
		}
		params = append(params, map[string]any{"name": "X-Request-ID", "in": "header", "description": "Echoed and logged; generated when absent.", "schema": map[string]any{"type": "string"}})
		o["parameters"] = params
		switch {
		case op.upload:
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{"schema": map[string]any{
				"type": "object", "required": []string{"kind", "file"},
				"properties": map[string]any{
					"kind": map[string]any{"type": "string", "enum": schema.DocumentKinds,
						"description": "The scan's kind. A client that cannot add a form field may give it as ?kind= instead; both, differing, are refused."},
					"file": map[string]any{"type": "string", "format": "binary"},
				}}}}}
		case op.body != nil:
			o["requestBody"] = map[string]any{"required": op.Method == "POST" && op.Path == "/api/v1/applications",
				"content": map[string]any{"application/json": map[string]any{"schema": s.of(op.body)}}}
		}
		ok := map[string]any{"description": http.StatusText(op.status)}
		switch {
		case op.resp != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s.of(op.resp)}}
		case len(op.media) > 0:
			content := map[string]any{}
			for _, m := range op.media {
				sch := map[string]any{"type": "string"}
				if !strings.HasPrefix(m, "text/") {
					sch["format"] = "binary"
				}
				content[m] = map[string]any{"schema": sch}
			}
			ok["content"] = content
		}
		resps := map[string]any{fmt.Sprint(op.status): ok}
		if op.accepted != "" {
			acc := map[string]any{"description": op.accepted}
			if c, ok := ok["content"]; ok {
				acc["content"] = c
			}
			resps["202"] = acc
		}
		if !op.public {
			resps["401"] = problem(text("Требуется вход в систему.", "No or bad credentials."))
			resps["403"] = problem(text("Роль не позволяет, или у оператора МФЦ нет открытого приёма с заявителем (visit_required).",
				"The caller's role may not do this, or an MFC operator has no open visit with the applicant (visit_required)."))
		}
		if op.body != nil || op.upload || len(op.params) > 0 {
			resps["400"] = problem(text("Неверный запрос.", "Malformed request."))
		}
		if op.command || op.upload {
			resps["422"] = problem(text("Поля не прошли проверку; errors называет каждое.", "Fields failed validation; errors names each one."))
			resps["415"] = problem(text("Тело не того типа: команды принимают application/json, загрузка — multipart/form-data с PDF, JPEG или PNG.",
				"The body is of the wrong type: commands take application/json, the upload multipart/form-data with a PDF, JPEG or PNG."))
		}
		// Every API route has a body limit (cmd/internal/authz), none for
		// reads; the meta routes (health, metrics, this document) are
		// outside the API's guard and ignore a body.
		if op.tag != "meta" {
			resps["413"] = problem(text("Тело запроса больше предела маршрута (у запросов на чтение тела нет).", "The body is over the route's limit (reads take none)."))
		}
		if op.body != nil || op.upload || op.command {
			// A body must say its length: chunked ones are refused before
			// any route (QA: the document did not list it).
			resps["411"] = problem(text("Тело без Content-Length (например, chunked) не принимается (length_required).",
				"A body without a Content-Length (chunked, say) is not accepted (length_required)."))
		}
		resps["429"] = problem(text("Слишком много запросов; повторите через Retry-After секунд.", "Too many requests; retry after Retry-After seconds."))
		if op.command {
			resps["404"] = problem(text("Заявление не найдено.", "No such application."))
			resps["409"] = problem(text("Команда не подходит к состоянию заявления, или If-Match устарел (currentRevision).", "The command does not fit the application's state, or If-Match is stale (currentRevision)."))
		}
		if strings.Contains(op.Path, ":") && !op.command {
			resps["404"] = problem(text("Не найдено.", "Not found."))
		}
		for _, q := range op.params {
			if q.name == "after" {
				resps["503"] = problem(text("Данные ещё обновляются; повторите (Retry-After).", "The read model has not caught up yet; retry (Retry-After)."))
			}
		}
		if op.audited {
			desc := text("Чтение сотрудником не удалось записать в журнал доступа, поэтому данные не выданы (access_log_unavailable); повторите (Retry-After).",
				"A staff read could not be recorded in the access log, so the data was not served (access_log_unavailable); retry (Retry-After).")
			if _, ok := resps["503"]; ok {
				desc = text("Данные ещё обновляются, или чтение сотрудником не удалось записать в журнал доступа (access_log_unavailable); повторите (Retry-After).",
					"The read model has not caught up yet, or a staff read could not be recorded in the access log (access_log_unavailable); retry (Retry-After).")
			}
			resps["503"] = problem(desc)
			o["description"] = strings.TrimSpace(op.desc + " Reads by staff (everyone but the applicant) are recorded in the application's access log before the answer is sent.")
		}
		// One status has one description: a 503 for a second reason is
		// told in the same one, first before the rest.
		also503 := func(desc string, first bool) {
			if prev, ok := resps["503"].(map[string]any); ok {
				if d, ok := prev["description"].(string); ok {
					if first {
						desc, d = d, desc
					}
					desc = d + " " + desc
				}
			}
			resps["503"] = problem(desc)
		}
		// Everything behind the API reads or writes a store; one that does
		// not answer is a 503 with Retry-After, whichever call met it.
		if op.tag != "meta" {
			also503(text("Хранилище событий или хранилище данных не ответило (event_store_unavailable); повторите (Retry-After).",
				"The event store or the read-model store did not answer (event_store_unavailable); retry (Retry-After)."), false)
		}
		for _, m := range op.more {
			if m.status == 503 {
				also503(m.desc, true)
				continue
			}
			resps[fmt.Sprint(m.status)] = problem(m.desc)
		}
		o["responses"] = resps
		if op.public {
			o["security"] = []any{}
		}
		item[strings.ToLower(op.Method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "ОМС онлайн API",
			"version": "1",
			"description": "Commands answer {applicationId, revision, position}; pass position as ?after= to a query to read your own write. " +
				"Refusals are RFC 9457 problem documents with Russian and English details. " +
				"The HTML pages (/, /signin, /cabinet, /reviewer, /auditor, …) are not part of this API.",
		},
		"servers": []any{map[string]any{"url": "/"}},
		"tags": []any{
			map[string]any{"name": "commands", "description": "Change an application; optimistic concurrency with If-Match."},
			map[string]any{"name": "documents", "description": "Scans of documents."},
			map[string]any{"name": "visits", "description": "MFC visits: an operator acts for an applicant only with the applicant's code."},
			map[string]any{"name": "queries", "description": "Read models, with read-your-writes through ?after=."},
			map[string]any{"name": "audit", "description": "The audit timeline and time travel."},
			map[string]any{"name": "admin", "description": "Projection operations (admin role)."},
			map[string]any{"name": "meta", "description": "Health, metrics and this document."},
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": s.comps,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
					"description": "In dev mode, `omsctl token --role ROLE --subject ID` prints one."},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "oms_session",
					"description": "The browser session; state-changing requests also need the X-CSRF-Token header."},
			},
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}},
	}
}

func operationID(op Operation) string {
	parts := strings.FieldsFunc(op.Path, func(r rune) bool { return r == '/' || r == '-' || r == '.' || r == ':' })
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	for _, p := range parts {
		if p == "api" || p == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

var (
	once    sync.Once
	encoded []byte
	encErr  error
)

// JSON is the document, encoded once.
func JSON() ([]byte, error) {
	once.Do(func() { encoded, encErr = json.MarshalIndent(Document(), "", " ") })
	return encoded, encErr
}

// Handler serves the document; it needs no caller, so mount it before the
// /api authentication middleware.
func Handler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		b, err := JSON()
		if err != nil {
			return fmt.Errorf("openapi: %w", err)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		return c.Send(b)
	}
}

// Routes lists "METHOD path" of every operation, sorted, in Fiber syntax.
func Routes() []string {
	var out []string
	for _, op := range Operations() {
		out = append(out, op.Method+" "+op.Path)
	}
	sort.Strings(out)
	return out
}

// eraseBody is the body of the erasure endpoint.
type eraseBody struct {
	// Basis is subject_request, consent_withdrawn or retention_ended.
	Basis string `json:"basis"`
}
