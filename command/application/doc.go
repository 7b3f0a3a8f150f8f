// Package application is the write-side domain of an ОМС application: the
// aggregate's state folded from its events, and one pure decision per command
// that either returns the new events or refuses with a *cmderr.Error. It
// knows nothing of HTTP, storage or the clock: the command service loads the
// events, passes the time and the caller in an Env, and appends what Decide
// returns (the Eventuous decide/evolve style).
//
// # Commands
//
//	Command          Who                                  From state                  To state
//	SubmitApplication applicant, operator for one          (none)                      submitted
//	ClaimForReview   reviewer                             submitted; or unheld in_review, info_requested, approved   in_review; or the same
//	ReleaseClaim     the assigned reviewer, or an admin   in_review; info_requested, approved   submitted; the same, unheld
//	RequestInfo      the assigned reviewer                in_review                   info_requested
//	ProvideInfo      the owner (applicant or operator)    info_requested              in_review
//	Approve          the assigned reviewer                in_review                   approved (policy_active with AutoIssue)
//	Reject           the assigned reviewer                in_review, info_requested   rejected
//	IssuePolicy      reviewer                             approved                    policy_active
//	ChangeAddress    the owner                            policy_active (valid today) policy_active
//	Renew            the owner                            policy_active (window), policy_expired  policy_active
//	Withdraw         the owner                            submitted, in_review, info_requested  withdrawn
//	ExpirePolicy     system                               policy_active (after validTo)         policy_expired
//	RemindRenewal    system                               policy_active (window, once a term)   policy_active
//
// No reviewer claims, questions, decides or issues a policy on an
// application in which they are the applicant or which they submitted
// (403 own_application).
//
// Checks run in a fixed order, so the most useful refusal wins: the
// application must exist (404), the caller must have the role and own the
// application (403), the state must allow the command (409), and only then
// are the fields validated (422, all field errors at once).
//
// # Eligibility
//
// Under 326-ФЗ art. 10 a foreign citizen or stateless person is insured when
// living in Russia on a temporary residence permit (РВП), a residence permit
// (ВНЖ), as a refugee, or when working under an employment contract as a
// citizen of an EAEU member state. A migration card does not give the right
// and is refused with a message naming the documents that do.
//
// # Document number formats
//
// The formats the service accepts, after upper-casing and removing spaces:
//
//	foreign_passport  series: optional, up to 10 Latin letters/digits; number: 5–20 Latin letters/digits
//	rvp               series: 2 digits; number: 7 digits
//	vnzh              series: 2 digits (82 foreign citizen, 83 stateless); number: 7 digits
//	refugee           series: 2 Cyrillic letters; number: 6–7 digits
//	eaeu_worker       series: none; number: the employment contract's number, 1–30 letters/digits, "/" or "-"
//	migration_card    series: 4 digits; number: 7 digits (refused as not eligible)
//
// # Policy
//
// The ЕНП has 16 digits; the last is a Luhn (ISO/IEC 7812-1) check digit over
// the first 15, and the first is never 0 (see ValidENP). A policy is valid
// from its issue date through ValidTo inclusive: the issue date plus the
// policy term (Config.PolicyTermMonths, default 12) minus one day, capped at
// the residence document's expiry, because a policy cannot outlive the right
// it rests on (an РВП ends with its permit).
//
// # Names, addresses, phones
//
// A name is letters of one script, Cyrillic or Latin, with single spaces,
// hyphens or apostrophes between them (', ’, and Uzbek Latin's ʻ with the
// ‘ and ʼ that keyboards type for it). The region is the two-digit code
// of a subject of the Russian Federation as ФИАС numbers them (see
// regionCodes); an address is stored with single spaces, and an address
// change that differs only in letter case or spaces is no change. A phone
// is E.164; a Russian number written as at home (8 or 7 and ten digits)
// is stored as +7 and its ten digits.
//
// Dates are calendar dates in Moscow (Config.Location, UTC+3 by default):
// "today" is Env.Now's date there.
package application
