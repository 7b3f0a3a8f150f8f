package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events/schema"
)

// DecodeSubmit decodes the body of POST /api/v1/applications. It is the
// exact decoding the handler runs, exported for the fuzz target.
func DecodeSubmit(body []byte) (schema.Form, error) {
	var f schema.Form
	err := decodeBody(body, &f)
	return f, err
}

// decodeBody decodes a JSON object into v. Unknown fields are ignored, so
// clients built against a newer contract keep working; an empty body or
// null is an empty object, so commands without fields need no body. Syntax
// errors are a 400; a value of the wrong type is a 422 pointing at the field.
func decodeBody(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed(cmderr.T("После JSON-объекта есть лишние данные.", "There is extra data after the JSON object."))
	}
	return nil
}

func malformed(detail cmderr.Text) error {
	return cmderr.New(cmderr.BadRequest, "malformed_json", detail)
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return malformed(cmderr.T(
			fmt.Sprintf("Тело запроса — не корректный JSON (ошибка около байта %d).", syn.Offset),
			fmt.Sprintf("The request body is not valid JSON (error near byte %d).", syn.Offset)))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed(cmderr.T("JSON в теле запроса оборван.", "The JSON in the request body is cut short."))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return malformed(cmderr.T("Тело запроса должно быть JSON-объектом.", "The request body must be a JSON object."))
		}
		want := jsonType(typ.Type)
		var f cmderr.Fields
		f.Add("/"+strings.ReplaceAll(typ.Field, ".", "/"), "type", cmderr.T(
			"Неверный тип значения: ожидается "+want[0]+".", "Wrong value type: expected "+want[1]+"."))
		return f.Err()
	}
	return malformed(cmderr.T("Тело запроса — не корректный JSON.", "The request body is not valid JSON."))
}

func jsonType(t reflect.Type) [2]string {
	if t == nil {
		return [2]string{"другое значение", "another value"}
	}
	switch t.Kind() {
	case reflect.String:
		return [2]string{"строка", "a string"}
	case reflect.Bool:
		return [2]string{"true или false", "true or false"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return [2]string{"число", "a number"}
	case reflect.Slice, reflect.Array:
		return [2]string{"массив", "an array"}
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return [2]string{"объект", "an object"}
	}
	return [2]string{"другое значение", "another value"}
}

// commandFor decodes the body of an application action.
func commandFor(action string, body []byte) (application.Command, error) {
	switch action {
	case "claim":
		return decodeAs[application.ClaimForReview](body)
	case "request-info":
		return decodeAs[application.RequestInfo](body)
	case "provide-info":
		return decodeAs[application.ProvideInfo](body)
	case "approve":
		return decodeAs[application.Approve](body)
	case "reject":
		return decodeAs[application.Reject](body)
	case "issue-policy":
		return decodeAs[application.IssuePolicy](body)
	case "change-address":
		return decodeAs[application.ChangeAddress](body)
	case "renew":
		return decodeAs[application.Renew](body)
	case "withdraw":
		return decodeAs[application.Withdraw](body)
	case "withdraw-consent":
		return decodeAs[application.WithdrawConsent](body)
	}
	return nil, cmderr.New(cmderr.NotFound, "no_route", cmderr.T("Такого действия нет.", "No such action."))
}

func decodeAs[T application.Command](body []byte) (application.Command, error) {
	var c T
	if err := decodeBody(body, &c); err != nil {
		return nil, err
	}
	return c, nil
}

// Actions are the application actions, in the order of their life.
var Actions = []string{"claim", "request-info", "provide-info", "approve", "reject", "issue-policy", "change-address", "renew", "withdraw", "withdraw-consent"}
