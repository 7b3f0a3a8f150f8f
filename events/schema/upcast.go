package schema

import (
	"encoding/json"
	"errors"
	"strings"
)

// upcastSubmittedV1 lifts ApplicationSubmitted v1 to v2.
//
// v1 kept the applicant's name as one string, applicant.fullName, in the
// Russian order "Фамилия Имя Отчество". Reviewers could not search by last
// name and the policy printout needs the parts, so v2 splits it: the first
// word is the last name, the second the first name, and any remaining words
// the middle name (patronymics such as "Угли" or "Кызы" follow the name).
// A one-word name is a last name alone, as some passports have.
func upcastSubmittedV1(data json.RawMessage) (json.RawMessage, error) {
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(data, &payload); err != nil {
		return nil, err
	}
	if payload == nil {
		return nil, errors.New("payload is not an object")
	}
	var applicant map[string]any
	if raw, ok := payload["applicant"]; ok {
		if err := json.Unmarshal(raw, &applicant); err != nil {
			return nil, err
		}
	}
	if applicant == nil {
		applicant = map[string]any{}
	}
	if full, ok := applicant["fullName"].(string); ok {
		parts := strings.Fields(full)
		if len(parts) > 0 {
			applicant["lastName"] = parts[0]
		}
		if len(parts) > 1 {
			applicant["firstName"] = parts[1]
		}
		if len(parts) > 2 {
			applicant["middleName"] = strings.Join(parts[2:], " ")
		}
	}
	delete(applicant, "fullName")
	raw, err := json.Marshal(applicant)
	if err != nil {
		return nil, err
	}
	payload["applicant"] = raw
	return json.Marshal(payload)
}
