package mongostore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
)

// The body is stored as a real BSON document (not a JSON string) so that it
// can be inspected and, if ever needed, indexed in MongoDB. The conversion is
// written out here rather than done with the driver's extended-JSON codec:
// that codec would read keys such as "$date" or "$oid" in a projection's
// JSON as type markers and change the document.

// jsonToBSON converts a JSON object to a BSON document. Integers that fit
// int64 become int64 and all other numbers float64, so integers beyond
// ±2^63 lose precision (documented on readstore.Doc.Body).
//
// portable is false for JSON that is valid but not storable as a document
// on every MongoDB-compatible server: keys that start with "$" or contain
// "." (older MongoDB and FerretDB refuse them), duplicate keys, keys with NUL
// (BSON cannot hold them) and arrays directly inside arrays (FerretDB v1).
// Such bodies are stored as a JSON string instead.
func jsonToBSON(body []byte) (doc bson.D, portable bool, err error) {
	dec := &bodyDecoder{Decoder: json.NewDecoder(bytes.NewReader(body)), portable: true}
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, false, fmt.Errorf("body: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, false, errors.New("body is not a JSON object")
	}
	doc, err = dec.object()
	if err != nil {
		return nil, false, fmt.Errorf("body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false, errors.New("body: trailing data after the object")
	}
	return doc, dec.portable, nil
}

type bodyDecoder struct {
	*json.Decoder
	portable bool
}

func (dec *bodyDecoder) object() (bson.D, error) {
	doc := bson.D{}
	seen := map[string]struct{}{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		if _, dup := seen[key]; dup || strings.HasPrefix(key, "$") || strings.ContainsAny(key, ".\x00") {
			dec.portable = false
		}
		seen[key] = struct{}{}
		v, err := dec.value(false)
		if err != nil {
			return nil, err
		}
		doc = append(doc, bson.E{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return doc, nil
}

func (dec *bodyDecoder) value(inArray bool) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return dec.object()
		case '[':
			if inArray {
				dec.portable = false
			}
			arr := bson.A{}
			for dec.More() {
				v, err := dec.value(true)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if i, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(t.String(), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// bsonToJSON converts a stored BSON body back to a JSON object.
func bsonToJSON(doc bson.Raw) ([]byte, error) {
	return appendDoc(make([]byte, 0, len(doc)), doc)
}

func appendDoc(buf []byte, doc bson.Raw) ([]byte, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	buf = append(buf, '{')
	for i, e := range elems {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, err = appendString(buf, e.Key()); err != nil {
			return nil, err
		}
		buf = append(buf, ':')
		if buf, err = appendValue(buf, e.Value()); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Key(), err)
		}
	}
	return append(buf, '}'), nil
}

func appendValue(buf []byte, v bson.RawValue) ([]byte, error) {
	switch v.Type {
	case bsontype.EmbeddedDocument:
		return appendDoc(buf, v.Document())
	case bsontype.Array:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		buf = append(buf, '[')
		for i, el := range vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendValue(buf, el); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case bsontype.String:
		return appendString(buf, v.StringValue())
	case bsontype.Int32:
		return strconv.AppendInt(buf, int64(v.Int32()), 10), nil
	case bsontype.Int64:
		return strconv.AppendInt(buf, v.Int64(), 10), nil
	case bsontype.Double:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v has no JSON form", f)
		}
		return strconv.AppendFloat(buf, f, 'g', -1, 64), nil
	case bsontype.Boolean:
		return strconv.AppendBool(buf, v.Boolean()), nil
	case bsontype.Null:
		return append(buf, "null"...), nil
	}
	return nil, fmt.Errorf("BSON type %s has no JSON form", v.Type)
}

func appendString(buf []byte, s string) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return append(buf, b...), nil
}
