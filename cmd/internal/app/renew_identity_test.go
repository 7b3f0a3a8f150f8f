package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A holder whose passport was replaced gives the new one in the renewal,
// with its scan, and from then on the new passport is theirs alone: another
// account applying with it is refused as with any passport in use. Renewed
// on the old, expired one, the policy is not (lifecycle QA).
func TestRenewalBringsANewPassport(t *testing.T) {
	a, cfg := startApp(t)
	c := newClient(t, a, cfg)
	p := karimov("new-passport", "N1234567")
	// A residence permit that ends soon: the policy is renewable now.
	msk := time.FixedZone("MSK", 3*3600)
	p.ResidenceExpires = time.Now().In(msk).AddDate(0, 0, 10).Format(time.DateOnly)
	tok, rev := c.token("applicant", p.Subject), c.token("reviewer", "rev-1")
	r, _ := c.submit(p, tok, "")
	c.act(rev, "", r.ApplicationID, "claim", "")
	c.act(rev, "", r.ApplicationID, "approve", "")
	c.act(rev, "", r.ApplicationID, "issue-policy", "")

	passportScan := c.upload(tok, "", "passport", "new passport")
	residenceScan := c.upload(tok, "", "residence_document", "new permit")
	today := time.Now().In(msk)
	body := fmt.Sprintf(`{
 "identityDocument": {"type":"foreign_passport","series":"FB","number":"7777777","issuedAt":%q,"issuedBy":"MIA of Uzbekistan","expiresAt":%q},
 "residenceDocument": {"type":"vnzh","series":"82","number":"7654321","issuedAt":%q,"expiresAt":%q},
 "documents": [{"kind":"passport","id":%q},{"kind":"residence_document","id":%q}]}`,
		today.AddDate(0, 0, -20).Format(time.DateOnly), today.AddDate(10, 0, 0).Format(time.DateOnly),
		today.AddDate(0, 0, -5).Format(time.DateOnly), today.AddDate(5, 0, 0).Format(time.DateOnly),
		passportScan, residenceScan)
	renewed := c.act(tok, "", r.ApplicationID, "renew", body)

	var reviewer struct {
		Form struct {
			IdentityDocument struct{ Series, Number string }
		}
	}
	c.must(req{method: "GET", path: fmt.Sprintf("/api/v1/applications/%s?after=%d", r.ApplicationID, renewed.Position), token: rev}, 200, &reviewer)
	if d := reviewer.Form.IdentityDocument; d.Series != "FB" || d.Number != "7777777" {
		t.Fatalf("the application after the renewal names the passport %+v", d)
	}
	// The new passport is this person's now.
	other := karimov("someone-else", "7777777")
	otherTok := c.token("applicant", other.Subject)
	docs := map[string]string{}
	for _, kind := range []string{"passport", "residence_document", "consent"} {
		docs[kind] = c.upload(otherTok, "", kind, other.Subject)
	}
	res := c.must(req{method: "POST", path: "/api/v1/applications", token: otherTok,
		json: strings.Replace(other.form(docs), `"series":"FA"`, `"series":"FB"`, 1)}, 409, nil)
	if !strings.Contains(res.body, "document_in_use") {
		t.Fatalf("another account with the renewed policy's new passport: %s", res.body)
	}
}
