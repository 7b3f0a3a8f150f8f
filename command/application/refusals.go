package application

import (
	"fmt"
	"slices"
	"strings"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/events"
)

var commandNames = map[string][2]string{
	"SubmitApplication": {"подать заявление", "submit the application"},
	"ClaimForReview":    {"взять заявление на рассмотрение", "claim the application for review"},
	"ReleaseClaim":      {"вернуть заявление в очередь", "return the application to the queue"},
	"RequestInfo":       {"запросить сведения", "request information"},
	"ProvideInfo":       {"предоставить сведения", "provide information"},
	"Approve":           {"одобрить заявление", "approve the application"},
	"Reject":            {"отклонить заявление", "reject the application"},
	"IssuePolicy":       {"выдать полис", "issue the policy"},
	"ChangeAddress":     {"изменить адрес", "change the address"},
	"Renew":             {"продлить полис", "renew the policy"},
	"Withdraw":          {"отозвать заявление", "withdraw the application"},
	"ExpirePolicy":      {"завершить срок действия полиса", "expire the policy"},
	"RemindRenewal":     {"напомнить о продлении", "send the renewal reminder"},
}

var roleNames = map[string][2]string{
	events.RoleApplicant: {"заявитель", "the applicant"},
	events.RoleOperator:  {"оператор МФЦ от имени заявителя", "an MFC operator acting for the applicant"},
	events.RoleReviewer:  {"специалист фонда ОМС", "a reviewer"},
	events.RoleSystem:    {"система", "the system"},
}

func notFound() error {
	return cmderr.New(cmderr.NotFound, "application_not_found", cmderr.T("Заявление не найдено.", "No such application."))
}

// wrongState refuses a command in a state that does not allow it, naming
// the states that do.
func wrongState(c Command, s Status, allowed ...Status) error {
	cmd := commandNames[c.Name()]
	ru := fmt.Sprintf("Нельзя %s: заявление в статусе «%s».", cmd[0], statusNames[s][0])
	// The status by its name, quoted, in English as in Russian: "the
	// application is policy active" did not read as English.
	en := fmt.Sprintf("Cannot %s: the application's status is “%s”.", cmd[1], statusNames[s][1])
	if len(allowed) > 0 {
		var ar, ae []string
		for _, a := range allowed {
			ar = append(ar, "«"+statusNames[a][0]+"»")
			ae = append(ae, "“"+statusNames[a][1]+"”")
		}
		ru += " Это возможно в статусах: " + strings.Join(ar, ", ") + "."
		en += " It is possible in the statuses " + strings.Join(ae, ", ") + "."
	}
	return cmderr.New(cmderr.Conflict, "wrong_state", cmderr.T(ru, en))
}

func conflict(code, ru, en string) error {
	return cmderr.New(cmderr.Conflict, code, cmderr.T(ru, en))
}

// requireState passes when s is one of allowed.
func requireState(c Command, s Status, allowed ...Status) error {
	if slices.Contains(allowed, s) {
		return nil
	}
	return wrongState(c, s, allowed...)
}

// requireRole passes when the caller has one of roles.
func requireRole(c Command, caller Caller, roles ...string) error {
	if slices.Contains(roles, caller.Role) {
		return nil
	}
	var rr, re []string
	for _, r := range roles {
		rr = append(rr, roleNames[r][0])
		re = append(re, roleNames[r][1])
	}
	cmd := commandNames[c.Name()]
	return cmderr.New(cmderr.Forbidden, "wrong_role", cmderr.T(
		fmt.Sprintf("Действие «%s» может выполнить только %s.", cmd[0], strings.Join(rr, " или ")),
		fmt.Sprintf("Only %s may %s.", strings.Join(re, " or "), cmd[1])))
}

// requireSubject passes for an applicant, or an operator that names the
// applicant it acts for.
func requireSubject(caller Caller) error {
	if caller.Subject() == "" {
		return cmderr.New(cmderr.Forbidden, "on_behalf_required", cmderr.T(
			"Оператор МФЦ действует только от имени заявителя: укажите заявителя.",
			"An MFC operator acts only on behalf of an applicant: name the applicant."))
	}
	return nil
}

// requireOwner passes when the caller is the application's applicant or
// acts for them.
func requireOwner(s State, caller Caller) error {
	if err := requireSubject(caller); err != nil {
		return err
	}
	if caller.Subject() != s.ApplicantID {
		// As the query side answers: someone else's application is one
		// this caller cannot see, so its id cannot be probed.
		return notFound()
	}
	return nil
}

// requireAssignee passes when the reviewer is the one the application is
// assigned to: a decision belongs to whoever claimed the review.
func requireAssignee(s State, caller Caller) error {
	if s.ReviewerID != "" && s.ReviewerID != caller.ID {
		return cmderr.New(cmderr.Forbidden, "not_assignee", cmderr.T(
			"Заявление рассматривает другой специалист.", "Another reviewer is assigned to this application."))
	}
	return nil
}

// requireNotOwnCase refuses a reviewer acting on an application in which
// they are the applicant, or which they submitted for someone: nobody
// decides their own case. Subject ids are shared across roles (one person
// signed in through one identity provider), so the ids compare directly.
func requireNotOwnCase(s State, caller Caller) error {
	if caller.ID != "" && (caller.ID == s.ApplicantID || caller.ID == s.SubmittedBy) {
		return cmderr.New(cmderr.Forbidden, "own_application", cmderr.T(
			"Нельзя рассматривать заявление, в котором вы заявитель или которое вы подали.",
			"You cannot review an application in which you are the applicant or which you submitted."))
	}
	return nil
}

// ApplicantErased refuses new personal data from an applicant whose data
// were erased: their key is gone for good, so nothing new can be sealed
// under it.
func ApplicantErased() error {
	return cmderr.New(cmderr.Conflict, "applicant_erased", cmderr.T(
		"Персональные данные этого заявителя удалены (по его требованию, после отзыва согласия или по окончании срока хранения); с этой учётной записью новые сведения не принимаются.",
		"This applicant's personal data were erased (at their request, after the consent was withdrawn, or when the retention period ended); this account takes no new personal data."))
}
