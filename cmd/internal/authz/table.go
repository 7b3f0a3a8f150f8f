package authz

import (
	commandapi "github.com/omsonline/oms/command/httpapi"
)

// Short names that keep the table a readable matrix.
const (
	no  = Deny
	all = Allow
	own = Own
	obo = OnBehalf
	rev = NotOwnCase
)

// Body limits. A command's JSON is a few kilobytes; the limit is the
// command API's own, so the middleware refuses early what the handler
// would refuse late. Forms of the sign-in pages are a phone number and a
// code.
const (
	jsonBody   = commandapi.DefaultJSONBodyLimit
	uploadBody = commandapi.MinAppBodyLimit
	formBody   = 4 << 10
	smallBody  = 4 << 10
)

// Table is the authorization matrix of omsd: every route × every role.
//
// The operational endpoints are open: probes and Prometheus scrapers carry
// no token, and none of them shows personal data. Auditors only read: every
// state-changing route denies them. Administrators run the projections and
// read what staff read, but neither decide applications nor read scans.
func Table() []Route {
	return []Route{
		// method, path, body limit, then one column per role:
		// anonymous, applicant, operator, reviewer, auditor, admin.
		// no: refused; all: allowed; own: the applicant's own data only;
		// obo: an operator for the applicant named; rev: a reviewer, not
		// on their own case.
		{"GET", "/metrics", 0, all, all, all, all, all, all},
		{"GET", "/healthz", 0, all, all, all, all, all, all},
		{"GET", "/readyz", 0, all, all, all, all, all, all},
		{"GET", "/api/openapi.json", 0, all, all, all, all, all, all},
		// The consent text is public: people read it before they sign in.
		{"GET", "/api/v1/consent", 0, all, all, all, all, all, all},

		// Commands (command/httpapi).
		{"POST", "/api/v1/applications", jsonBody, no, own, obo, no, no, no},
		{"POST", "/api/v1/applications/:id/claim", jsonBody, no, no, no, rev, no, no},
		// The assigned reviewer lets an application go; an administrator
		// takes it from one who cannot go on (the domain tells them apart).
		{"POST", "/api/v1/applications/:id/release", jsonBody, no, no, no, rev, no, all},
		{"POST", "/api/v1/applications/:id/request-info", jsonBody, no, no, no, rev, no, no},
		{"POST", "/api/v1/applications/:id/provide-info", jsonBody, no, own, obo, no, no, no},
		{"POST", "/api/v1/applications/:id/approve", jsonBody, no, no, no, rev, no, no},
		{"POST", "/api/v1/applications/:id/reject", jsonBody, no, no, no, rev, no, no},
		{"POST", "/api/v1/applications/:id/issue-policy", jsonBody, no, no, no, rev, no, no},
		{"POST", "/api/v1/applications/:id/change-address", jsonBody, no, own, obo, no, no, no},
		{"POST", "/api/v1/applications/:id/renew", jsonBody, no, own, obo, no, no, no},
		// Withdrawing the application, or the consent (which closes an
		// open application too), is the applicant's decision; one who has
		// no other way to the service makes it in person at an МФЦ, and
		// the operator records it for them, as every other command. The
		// applicant's inbox says when an operator acted for them.
		{"POST", "/api/v1/applications/:id/withdraw", jsonBody, no, own, obo, no, no, no},
		{"POST", "/api/v1/applications/:id/withdraw-consent", jsonBody, no, own, obo, no, no, no},
		{"POST", "/api/v1/documents", uploadBody, no, own, obo, no, no, no},
		{"GET", "/api/v1/documents/:id", 0, no, own, obo, all, all, no},
		// МФЦ visits (command/visit): the applicant takes a code, the
		// operator opens a visit with it, and only then acts for them
		// (obo checks the visit). Either ends it.
		{"POST", "/api/v1/visits/code", smallBody, no, own, no, no, no, no},
		{"POST", "/api/v1/visits", smallBody, no, no, all, no, no, no},
		{"POST", "/api/v1/visits/close", smallBody, no, own, obo, no, no, no},
		// An operator's own open visits, to go back to an applicant.
		{"GET", "/api/v1/visits", 0, no, no, all, no, no, no},

		// Queries (query/httpapi, query/policypdf).
		{"GET", "/api/v1/cabinet", 0, no, own, obo, no, no, no},
		{"GET", "/api/v1/reviewer/queue", 0, no, no, no, all, all, all},
		{"GET", "/api/v1/applications/:id", 0, no, own, obo, all, all, all},
		// The ids of the applications with a number, for staff to find
		// one by what a person quotes.
		{"GET", "/api/v1/applications/by-number/:number", 0, no, no, no, all, all, all},
		{"GET", "/api/v1/applications/:id/history", 0, no, no, no, all, all, all},
		{"GET", "/api/v1/applications/:id/state", 0, no, no, no, no, all, all},
		// The staff access log names who of the staff read the
		// application: auditors answer for it. Reviewers, whose reads it
		// records, do not read it.
		{"GET", "/api/v1/applications/:id/access", 0, no, no, no, no, all, all},
		{"GET", "/api/v1/applicants/:id/access", 0, no, no, no, no, all, all},
		{"GET", "/api/v1/policies/:enp/pdf", 0, no, own, obo, all, all, all},

		// Erasure of an applicant's personal data (152-ФЗ art. 21).
		{"POST", "/api/v1/admin/applicants/:id/erase", smallBody, no, no, no, no, no, all},
		// Who must be erased, and by when: the law's 30 days after a
		// withdrawn consent, found for the administrator.
		{"GET", "/api/v1/admin/erasures", 0, no, no, no, no, no, all},

		// Projections (cmd/internal/admin).
		{"GET", "/api/v1/admin/projections", 0, no, no, no, no, no, all},
		{"POST", "/api/v1/admin/projections/:name/rebuild", smallBody, no, no, no, no, no, all},
		{"GET", "/api/v1/admin/parked", 0, no, no, no, no, no, all},
		{"POST", "/api/v1/admin/projections/:name/replay-parked", smallBody, no, no, no, no, no, all},

		// Pages (query/web). Signing in and the public policy check are
		// for everyone; each console is for its roles.
		{"GET", "/static/*", 0, all, all, all, all, all, all},
		{"GET", "/", 0, all, all, all, all, all, all},
		{"GET", "/signin", 0, all, all, all, all, all, all},
		{"POST", "/signin/code", formBody, all, all, all, all, all, all},
		{"POST", "/signin/verify", formBody, all, all, all, all, all, all},
		// Opened by address, a sign-in step sends to the sign-in page.
		{"GET", "/signin/code", 0, all, all, all, all, all, all},
		{"GET", "/signin/verify", 0, all, all, all, all, all, all},
		{"POST", "/signout", formBody, all, all, all, all, all, all},
		// Where the pages' forms post when their script did not run: a
		// page that says so. The body is a whole form, and is dropped.
		{"POST", "/nojs", jsonBody, all, all, all, all, all, all},
		{"GET", "/verify/:enp", 0, all, all, all, all, all, all},
		// The consent text, read before applying.
		{"GET", "/consent", 0, all, all, all, all, all, all},
		{"GET", "/cabinet", 0, no, own, obo, no, no, no},
		{"GET", "/cabinet/new", 0, no, own, obo, no, no, no},
		{"GET", "/cabinet/applications/:id", 0, no, own, obo, no, no, no},
		{"GET", "/operator", 0, no, no, all, no, no, no},
		// The visit forms: the applicant's code and closing, the
		// operator's opening and ending.
		{"POST", "/cabinet/visit-code", formBody, no, own, no, no, no, no},
		{"POST", "/cabinet/visits/close", formBody, no, own, no, no, no, no},
		{"POST", "/operator", formBody, no, no, all, no, no, no},
		// Ending a visit that has ended already is no error (the page
		// ends it through the API, which checks the visit).
		{"POST", "/operator/end", formBody, no, no, all, no, no, no},
		{"GET", "/reviewer", 0, no, no, no, all, no, all},
		{"GET", "/reviewer/applications/:id", 0, no, no, no, all, no, all},
		{"GET", "/auditor", 0, no, no, no, no, all, all},
		{"GET", "/auditor/applications/:id", 0, no, no, no, no, all, all},
		{"GET", "/auditor/applications/:id/state", 0, no, no, no, no, all, all},
		{"GET", "/auditor/applicants/:id/access", 0, no, no, no, no, all, all},
	}
}
