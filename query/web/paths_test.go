package web

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/events/schema"
	"github.com/omsonline/oms/projections/appview"
)

// viewPaths lists the JSON pointers a diff of t can address, every item of
// a list as "*": the differ reports a change at any depth.
func viewPaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(time.Time{}):
		return
	case t.Kind() == reflect.Slice:
		*out = append(*out, prefix+"/*")
		viewPaths(t.Elem(), prefix+"/*", out)
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				viewPaths(f.Type, prefix, out) // inlined, as in JSON
				continue
			}
			if name == "" {
				name = f.Name
			}
			*out = append(*out, prefix+"/"+name)
			viewPaths(f.Type, prefix+"/"+name, out)
		}
	}
}

// The timeline names every field of the view in both languages, the
// catalogs' path names kept in step with the view's type: a field added to
// the view without a name shows as its bare pointer.
func TestTimelineNamesEveryField(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	viewPaths(reflect.TypeOf(appview.View{}), "", &ps)
	if len(ps) < 100 {
		t.Fatalf("only %d pointers in the view: the walk is broken", len(ps))
	}
	for _, code := range []string{"ru", "en"} {
		l := cats[code]
		for _, p := range ps {
			ptr := strings.ReplaceAll(p, "*", "3")
			if l.Field(ptr) == "" {
				t.Errorf("%s: %s has no name", code, p)
			}
		}
	}
	ru, en := cats["ru"], cats["en"]
	for _, c := range []struct{ ptr, ru, en string }{
		{"/form/address/city", "Анкета · Адрес проживания · Город или населённый пункт", "Application form · Address · City or town"},
		{"/questions/1/answer", "Вопросы специалиста · вопрос 2 · Ответ", "The reviewer's questions · question 2 · Answer"},
		{"/pastPolicies/0/document/version", "Прежние полисы · полис 1 · Бланк полиса · Версия", "Past policies · policy 1 · Policy document · Version"},
		{"/status", "Статус", "Status"},
		{"/form/nickname", "", ""},
		{"/", "", ""},
	} {
		if got := ru.Field(c.ptr); got != c.ru {
			t.Errorf("ru %s: %q, want %q", c.ptr, got, c.ru)
		}
		if got := en.Field(c.ptr); got != c.en {
			t.Errorf("en %s: %q, want %q", c.ptr, got, c.en)
		}
	}
}

// A reviewer may ask about any part of the form (the command accepts any
// of its pointers); the applicant's page names each, in both languages,
// where "/address/street" showed as the bare pointer.
func TestQuestionFieldsAreNamed(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	viewPaths(reflect.TypeOf(schema.Form{}), "", &ps)
	for _, code := range []string{"ru", "en"} {
		for _, p := range ps {
			if strings.Contains(p, "*") {
				continue // the command takes no item pointers
			}
			if got := fieldLabel(cats[code], p); got == p || got == "" {
				t.Errorf("%s: %s is not named", code, p)
			}
		}
	}
	if got := fieldLabel(cats["ru"], "/address/street"); got != "Адрес проживания · Улица" {
		t.Errorf("/address/street: %q", got)
	}
}
