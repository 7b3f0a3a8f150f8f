package appview

import "github.com/omsonline/oms/events/schema"

// Slim clears, in place, the parts of a view that only the audit history
// and the detail endpoint show: the identity document, contacts, scans and
// the address below its region. The cabinet, queue, renewals and policies
// projections keep their own copy of every application's view and read
// none of these, so they store it slim: a full form is most of a view's
// bytes, written once per projection per changed application in every
// batch, and each copy of a passport number or an address is one more
// place personal data sits.
//
// The fields kept are the ones Apply reads as well as sets (the region
// decides an issued policy's region), so folding slim views gives the slim
// of folding full ones (TestSlimFoldMatchesFullFold). v must be the
// caller's own copy: Slim assigns to v's fields and never writes through
// them.
func Slim(v *View) {
	f := &v.Form
	f.IdentityDocument = schema.IdentityDocument{}
	f.ResidenceDocument = schema.ResidenceDocument{Type: f.ResidenceDocument.Type}
	f.Address = schema.Address{Region: f.Address.Region}
	f.Contacts = schema.Contacts{}
	f.Documents = nil
}
