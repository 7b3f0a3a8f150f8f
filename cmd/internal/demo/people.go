package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/omsonline/oms/events/schema"
)

// person is a name as written in a passport: in Cyrillic for the former
// Soviet states whose passports carry it, in Latin otherwise, always with
// the machine-readable Latin form.
type person struct {
	last, first, middle string
	latin               string
	female              bool
}

type country struct {
	code     string
	issuedBy string
	places   []string
	people   []person
}

// The made-up people of the demo: common names of the countries most
// applicants come from, none of them a real person's data.
var countries = []country{
	{"UZB", "MIA of the Republic of Uzbekistan", []string{"Ташкент", "Самарканд", "Фергана", "Андижан"}, []person{
		{"Каримов", "Бахтиёр", "Рустамович", "KARIMOV BAKHTIYOR", false},
		{"Юсупова", "Дилноза", "", "YUSUPOVA DILNOZA", true},
		{"Рахимов", "Шерзод", "Алишерович", "RAKHIMOV SHERZOD", false},
		{"Турсунова", "Нигора", "", "TURSUNOVA NIGORA", true},
	}},
	{"TJK", "MIA of the Republic of Tajikistan", []string{"Душанбе", "Худжанд", "Куляб"}, []person{
		{"Рахмонов", "Фаридун", "", "RAKHMONOV FARIDUN", false},
		{"Саидова", "Мадина", "", "SAIDOVA MADINA", true},
		{"Назаров", "Умед", "Сафарович", "NAZAROV UMED", false},
	}},
	{"KGZ", "SRS of the Kyrgyz Republic", []string{"Бишкек", "Ош", "Джалал-Абад"}, []person{
		{"Абдыкадыров", "Нурлан", "", "ABDYKADYROV NURLAN", false},
		{"Осмонова", "Айгуль", "Бакытовна", "OSMONOVA AIGUL", true},
	}},
	{"KAZ", "MIA of the Republic of Kazakhstan", []string{"Алматы", "Шымкент", "Караганда"}, []person{
		{"Нурланов", "Ержан", "", "NURLANOV YERZHAN", false},
		{"Жумабаева", "Асель", "", "ZHUMABAYEVA ASSEL", true},
	}},
	{"ARM", "Passport and Visa Department of Armenia", []string{"Ереван", "Гюмри"}, []person{
		{"Петросян", "Арам", "Грантович", "PETROSYAN ARAM", false},
		{"Саргсян", "Ани", "", "SARGSYAN ANI", true},
	}},
	{"BLR", "MIA of the Republic of Belarus", []string{"Минск", "Гомель"}, []person{
		{"Ковальчук", "Андрей", "Сергеевич", "KOVALCHUK ANDREI", false},
	}},
	{"AZE", "State Migration Service of Azerbaijan", []string{"Баку", "Гянджа"}, []person{
		{"Алиев", "Эльчин", "", "ALIYEV ELCHIN", false},
		{"Мамедова", "Айтен", "", "MAMMADOVA AYTAN", true},
	}},
	{"MDA", "Public Services Agency of Moldova", []string{"Кишинёв", "Бельцы"}, []person{
		{"Rusu", "Ion", "", "RUSU ION", false},
		{"Ceban", "Natalia", "", "CEBAN NATALIA", true},
	}},
	{"CHN", "Exit-Entry Administration of the PRC", []string{"Harbin", "Beijing", "Shenyang"}, []person{
		{"Wang", "Lei", "", "WANG LEI", false},
		{"Li", "Na", "", "LI NA", true},
	}},
	{"VNM", "Immigration Department of Vietnam", []string{"Hà Nội", "Hải Phòng"}, []person{
		{"Nguyễn", "Văn An", "", "NGUYEN VAN AN", false},
		{"Trần", "Thị Mai", "", "TRAN THI MAI", true},
	}},
	{"TUR", "General Directorate of Population of Türkiye", []string{"İstanbul", "Ankara"}, []person{
		{"Yılmaz", "Mehmet", "", "YILMAZ MEHMET", false},
	}},
	{"DEU", "Stadt Berlin", []string{"Berlin", "Köln"}, []person{
		{"Müller", "Anna", "", "MUELLER ANNA", true},
	}},
	{"IND", "Ministry of External Affairs of India", []string{"New Delhi", "Mumbai"}, []person{
		{"Sharma", "Priya", "", "SHARMA PRIYA", true},
	}},
	{"XXA", "MIA of the Russian Federation (stateless person's document)", []string{"Рига", "Таллин"}, []person{
		{"Сидоренко", "Павел", "Викторович", "SIDORENKO PAVEL", false},
	}},
}

// eaeu are the countries whose citizens may rest their right on an
// employment contract.
var eaeu = map[string]bool{"ARM": true, "BLR": true, "KAZ": true, "KGZ": true}

type place struct {
	region, city, postal string
	streets              []string
}

var places = []place{
	{"77", "Москва", "125009", []string{"ул. Тверская", "Ленинский проспект", "ул. Профсоюзная", "Варшавское шоссе"}},
	{"78", "Санкт-Петербург", "191186", []string{"Невский проспект", "ул. Садовая", "Лиговский проспект"}},
	{"50", "Химки", "141400", []string{"ул. Московская", "Юбилейный проспект"}},
	{"16", "Казань", "420111", []string{"ул. Баумана", "ул. Пушкина"}},
	{"66", "Екатеринбург", "620014", []string{"ул. Малышева", "проспект Ленина"}},
	{"54", "Новосибирск", "630099", []string{"Красный проспект", "ул. Гоголя"}},
	{"23", "Краснодар", "350000", []string{"ул. Красная", "ул. Северная"}},
	{"63", "Самара", "443099", []string{"ул. Куйбышева", "Московское шоссе"}},
	{"52", "Нижний Новгород", "603005", []string{"ул. Большая Покровская"}},
	{"25", "Владивосток", "690091", []string{"ул. Светланская", "Океанский проспект"}},
	{"74", "Челябинск", "454091", []string{"проспект Ленина"}},
	{"02", "Уфа", "450077", []string{"ул. Ленина", "проспект Октября"}},
}

// dotted turns "KARIMOV BAKHTIYOR" into an e-mail local part.
var dotted = strings.NewReplacer(" ", ".")

// residence picks a document that gives the right to ОМС. soon makes it
// expire within the renewal window, so that the policy resting on it can
// be renewed today.
func residence(r *rand.Rand, cz string, birth, today time.Time, soon bool) schema.ResidenceDocument {
	issued := maxTime(today.AddDate(-r.IntN(4), -r.IntN(11)-1, 0), birth.AddDate(18, 0, 0))
	exp := issued.AddDate(3, 0, 0)
	if !exp.After(today.AddDate(0, 2, 0)) {
		exp = today.AddDate(1+r.IntN(3), 0, 0)
	}
	if soon {
		exp = today.AddDate(0, 0, 10+r.IntN(15))
	}
	if issued.AddDate(3, 0, 0).Before(exp) {
		// No RVP lasts longer; the others do not either here.
		issued = exp.AddDate(-3, 0, 0)
	}
	switch k := r.IntN(10); {
	case eaeu[cz] && k < 5 && !soon:
		return schema.ResidenceDocument{Type: schema.ResidenceEAEUWorker, Number: fmt.Sprintf("ТД-%d/%03d", issued.Year(), r.IntN(1000)),
			IssuedAt: day(issued), ExpiresAt: day(exp)}
	case k < 5:
		return schema.ResidenceDocument{Type: schema.ResidenceRVP, Series: fmt.Sprintf("%02d", 10+r.IntN(90)), Number: fmt.Sprintf("%07d", r.IntN(10_000_000)),
			IssuedAt: day(issued), ExpiresAt: day(exp)}
	case k < 8 || soon:
		return schema.ResidenceDocument{Type: schema.ResidenceVNZh, Series: fmt.Sprintf("%02d", 80+r.IntN(20)), Number: fmt.Sprintf("%07d", r.IntN(10_000_000)),
			IssuedAt: day(issued), ExpiresAt: day(exp)}
	default:
		series := []string{"БЖ", "УБ", "ВР"}[r.IntN(3)]
		return schema.ResidenceDocument{Type: schema.ResidenceRefugee, Series: series, Number: fmt.Sprintf("%07d", r.IntN(10_000_000)),
			IssuedAt: day(issued), ExpiresAt: day(exp)}
	}
}

// form makes up one applicant's form; the passport number is unique per
// run so that the one-open-application-per-person rule lets every form in.
func form(r *rand.Rand, seq int, run string, today time.Time, soonExpiry bool) schema.Form {
	c := countries[r.IntN(len(countries))]
	p := c.people[r.IntN(len(c.people))]
	birth := time.Date(1960+r.IntN(45), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	pIssued := maxTime(today.AddDate(-r.IntN(8), -r.IntN(12)-1, 0), birth.AddDate(16, 0, 0))
	pl := places[r.IntN(len(places))]
	sex := "male"
	if p.female {
		sex = "female"
	}
	email := strings.ToLower(dotted.Replace(p.latin)) + fmt.Sprintf("%d@example.org", r.IntN(1000))
	f := schema.Form{
		Applicant: schema.Applicant{LastName: p.last, FirstName: p.first, MiddleName: p.middle, LatinName: p.latin,
			BirthDate: day(birth), BirthPlace: c.places[r.IntN(len(c.places))], Citizenship: c.code, Sex: sex},
		IdentityDocument: schema.IdentityDocument{Type: schema.IdentityForeignPassport,
			Series: string(rune('A'+r.IntN(26))) + string(rune('A'+r.IntN(26))),
			Number: fmt.Sprintf("%s%07d", run, seq), IssuedAt: day(pIssued), IssuedBy: c.issuedBy, ExpiresAt: day(pIssued.AddDate(10, 0, 0))},
		ResidenceDocument: residence(r, c.code, birth, today, soonExpiry),
		Address: schema.Address{Region: pl.region, City: pl.city, Street: pl.streets[r.IntN(len(pl.streets))],
			House: fmt.Sprint(1 + r.IntN(120)), PostalCode: pl.postal},
		Contacts: schema.Contacts{Phone: fmt.Sprintf("+79%09d", r.IntN(1_000_000_000)), Email: email},
		Consent:  true,
	}
	if r.IntN(3) > 0 {
		f.Address.Apartment = fmt.Sprint(1 + r.IntN(300))
	}
	if r.IntN(5) == 0 {
		f.Address.Building = fmt.Sprint(1 + r.IntN(4))
	}
	return f
}

func newAddress(r *rand.Rand, old schema.Address) schema.Address {
	for {
		pl := places[r.IntN(len(places))]
		a := schema.Address{Region: pl.region, City: pl.city, Street: pl.streets[r.IntN(len(pl.streets))],
			House: fmt.Sprint(1 + r.IntN(120)), Apartment: fmt.Sprint(1 + r.IntN(300)), PostalCode: pl.postal}
		if a != old {
			return a
		}
	}
}

func day(t time.Time) string { return t.Format("2006-01-02") }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
