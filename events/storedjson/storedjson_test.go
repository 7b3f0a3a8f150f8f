package storedjson_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/omsonline/oms/events/storedjson"
)

type doc struct {
	N   json.Number       `json:"n"`
	S   string            `json:"s"`
	Bad string            `json:"bad"`
	A   []any             `json:"a"`
	M   map[string]string `json:"m"`
}

// Whichever decoder the input takes, plain text (goccy) or escapes and
// invalid UTF-8 (encoding/json), the result is encoding/json's.
func TestUnmarshalMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"n":12345678901234567,"s":"Иванов","a":[1,"x",{"b":null}],"m":{"k":"v"},"extra":[true]}`,
		`{"n":1,"s":"кавычка \" и перевод\nстроки \u003c"}`,
		"{\"bad\":\"\xff\xfe\",\"n\":1}",
		`{}`,
	} {
		var got, want doc
		errGot, errWant := storedjson.Unmarshal([]byte(in), &got), json.Unmarshal([]byte(in), &want)
		if (errGot == nil) != (errWant == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %+v (%v), want %+v (%v)", in, got, errGot, want, errWant)
		}
	}
}

func TestUnmarshalRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, in := range []string{`{"n":`, `{"s":1}`, `[1]`, ``, `{"s":"a"} x`} {
		var v doc
		if err := storedjson.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%q decoded as %+v", in, v)
		}
	}
}
