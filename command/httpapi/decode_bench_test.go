package httpapi

import (
	"testing"
)

var benchForm = []byte(`{
  "applicant": {"lastName":"Каримов","firstName":"Бахтиёр","latinName":"KARIMOV BAKHTIYOR","birthDate":"1990-04-12","birthPlace":"Ташкент","citizenship":"UZB","sex":"male"},
  "identityDocument": {"type":"foreign_passport","series":"FA","number":"1234567","issuedAt":"2019-05-20","issuedBy":"MIA of Uzbekistan","expiresAt":"2029-05-19"},
  "residenceDocument": {"type":"vnzh","series":"82","number":"1234567","issuedAt":"2024-03-01","expiresAt":"2029-03-01"},
  "address": {"region":"77","city":"Москва","street":"ул. Тверская","house":"7","apartment":"12","postalCode":"125009"},
  "contacts": {"phone":"+79161234567","email":"karimov@example.org"},
  "documents": [{"kind":"passport","id":"0193c8a4-0000-7000-8000-000000000001"},{"kind":"residence_document","id":"0193c8a4-0000-7000-8000-000000000002"},{"kind":"consent","id":"0193c8a4-0000-7000-8000-000000000003"}],
  "consent": true }`)

// BenchmarkDecodeSubmit is the decoding of a valid submission's body, the
// path every submission takes; the shape walk that names wrong types and
// unknown members runs only for a body encoding/json refused.
func BenchmarkDecodeSubmit(b *testing.B) {
	for b.Loop() {
		if _, err := DecodeSubmit(benchForm); err != nil {
			b.Fatal(err)
		}
	}
}
