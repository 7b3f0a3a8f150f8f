package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omsonline/oms/cmd/internal/config"
	"github.com/omsonline/oms/events"
	"github.com/omsonline/oms/projections/appview"
)

// raw calls omsd and returns the answer's body as it came.
func (c *apiClient) raw(method, path string) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, unreachable(c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, refusal(method, path, resp.Status, body)
	}
	return body, nil
}

// timelineRow is what the table shows of a history entry or a time-travel
// step; both carry these fields under the same names.
type timelineRow struct {
	Revision   uint64           `json:"revision"`
	Type       string           `json:"type"`
	OccurredAt time.Time        `json:"occurredAt"`
	Actor      events.Actor     `json:"actor"`
	OnBehalfOf string           `json:"onBehalfOf"`
	Diff       []appview.Change `json:"diff"`
}

func historyCmd(cfg *config.Config) *cobra.Command {
	var at string
	var revision int64
	var asJSON bool
	var paths int
	c := &cobra.Command{
		Use:   "history APP_ID|NUMBER",
		Short: "Print an application's audit timeline; --at or --revision replays it up to a moment",
		Long: `history prints who did what to an application and when: one row per event with its
revision, time, type, actor, the applicant an МФЦ operator acted for, and the
paths of the fields it changed. It reads the audit history of a running omsd
as an auditor. With --at or --revision it asks omsd to fold the event stream
itself up to that moment (time travel) and prints the state reached. The
application is its id or the 8-character number the pages show and people
quote (the end of the id).`,
		Example: `  omsctl history 0193c8a4-…
  omsctl history 2de7cb3d
  omsctl history 0193c8a4-… --at 2026-03-01T12:00:00+03:00
  omsctl history 0193c8a4-… --revision 2 --json`,
		Args: oneArg("id заявления или его номер из 8 знаков", "the application's id or its 8-character number"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("at") && cmd.Flags().Changed("revision") {
				return fmt.Errorf("укажите либо --at, либо --revision, не оба / give --at or --revision, not both")
			}
			id := args[0]
			if strings.ContainsAny(id, "/?#") {
				return fmt.Errorf("%q — не id заявления / is not an application id", id)
			}
			// The flags are checked before omsd is asked anything.
			travel := cmd.Flags().Changed("at") || cmd.Flags().Changed("revision")
			q := url.Values{}
			if cmd.Flags().Changed("at") {
				t, err := time.Parse(time.RFC3339Nano, at)
				if err != nil {
					return fmt.Errorf("--at %q — не время в формате RFC 3339, например 2026-03-01T12:00:00Z или 2026-03-01T12:00:00+03:00 / is not an RFC 3339 time: give one such as 2026-03-01T12:00:00Z or 2026-03-01T12:00:00+03:00", at)
				}
				q.Set("at", t.Format(time.RFC3339Nano))
			}
			if cmd.Flags().Changed("revision") {
				if revision < 0 {
					return fmt.Errorf("--revision не может быть отрицательным / must not be negative")
				}
				q.Set("revision", strconv.FormatInt(revision, 10))
			}
			api, err := newAPIClient(cfg, events.RoleAuditor)
			if err != nil {
				return err
			}
			if id, err = resolveNumber(api, id); err != nil {
				return err
			}
			path := "/api/v1/applications/" + url.PathEscape(id) + "/history"
			if travel {
				path = "/api/v1/applications/" + url.PathEscape(id) + "/state?" + q.Encode()
			}
			var body []byte
			if travel {
				body, err = api.raw("GET", path)
			} else {
				body, err = wholeHistory(api, path)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				var buf bytes.Buffer
				if err := json.Indent(&buf, body, "", "  "); err != nil {
					return fmt.Errorf("omsd answered something that is not JSON: %w", err)
				}
				buf.WriteByte('\n')
				_, err := buf.WriteTo(out)
				return err
			}
			var rows []timelineRow
			var state struct {
				Revision     uint64        `json:"revision"`
				LastRevision uint64        `json:"lastRevision"`
				State        stateFacts    `json:"state"`
				Steps        []timelineRow `json:"steps"`
				Entries      []timelineRow `json:"entries"`
			}
			if err := json.Unmarshal(body, &state); err != nil {
				return fmt.Errorf("ответ omsd не разобран / decode omsd's answer: %w", err)
			}
			rows = state.Entries
			if travel {
				rows = state.Steps
			}
			if err := printTimeline(out, rows, paths); err != nil {
				return err
			}
			if travel {
				if len(rows) == 0 {
					fmt.Fprintf(out, "\nnothing had happened to %s by then (its last revision is %d)\n", id, state.LastRevision)
				} else {
					fmt.Fprintf(out, "\nstate at revision %d of %d: %s\n", state.Revision, state.LastRevision, state.State.Status)
					state.State.print(out)
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&at, "at", "", "replay up to this RFC 3339 time; without a fraction of a second, through the end of that second, as the table shows times")
	c.Flags().Int64Var(&revision, "revision", 0, "replay up to this revision (0 is the submission)")
	c.Flags().BoolVar(&asJSON, "json", false, "print omsd's JSON answer as it is")
	c.Flags().IntVar(&paths, "paths", 6, "changed paths shown per row (0: all)")
	return c
}

func printTimeline(w io.Writer, rows []timelineRow, maxPaths int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tTIME (UTC)\tTYPE\tACTOR\tON BEHALF OF\tCHANGED")
	for _, r := range rows {
		behalf := r.OnBehalfOf
		if behalf == "" {
			behalf = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s (%s)\t%s\t%s\n", r.Revision, r.OccurredAt.UTC().Format("2006-01-02 15:04:05"),
			r.Type, r.Actor.ID, r.Actor.Role, behalf, changedPaths(r.Diff, maxPaths))
	}
	return tw.Flush()
}

// changedPaths lists the paths of the changed fields in the diff's order,
// cut to maxPaths so that a submission (which sets the whole form) keeps
// the table readable.
func changedPaths(diff []appview.Change, maxPaths int) string {
	if len(diff) == 0 {
		return "-"
	}
	ps := make([]string, 0, len(diff))
	for _, d := range diff {
		ps = append(ps, d.Path)
	}
	if maxPaths > 0 && len(ps) > maxPaths {
		more := len(ps) - maxPaths
		ps = append(ps[:maxPaths], fmt.Sprintf("… +%d", more))
	}
	return strings.Join(ps, " ")
}

// wholeHistory reads every page of an application's history and answers
// them as one page.
func wholeHistory(api *apiClient, path string) ([]byte, error) {
	var all struct {
		ApplicationID string            `json:"applicationId"`
		Entries       []json.RawMessage `json:"entries"`
	}
	for cursor := ""; ; {
		p := path
		if cursor != "" {
			p += "?cursor=" + url.QueryEscape(cursor)
		}
		body, err := api.raw("GET", p)
		if err != nil {
			return nil, err
		}
		var page struct {
			ApplicationID string            `json:"applicationId"`
			Entries       []json.RawMessage `json:"entries"`
			NextCursor    string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("ответ omsd не разобран / decode omsd's answer: %w", err)
		}
		all.ApplicationID = page.ApplicationID
		all.Entries = append(all.Entries, page.Entries...)
		if page.NextCursor == "" || page.NextCursor == cursor {
			return json.Marshal(all)
		}
		cursor = page.NextCursor
	}
}

// stateFacts are what an operator looks for in a replayed state; --json
// prints all of it.
type stateFacts struct {
	Status    string `json:"status"`
	Assignee  string `json:"assignee"`
	Questions []struct {
		Text     string `json:"text"`
		Answered bool   `json:"answered"`
	} `json:"questions"`
	Decision *struct {
		Outcome string `json:"outcome"`
		By      string `json:"by"`
		Reason  string `json:"reason"`
	} `json:"decision"`
	Policy *struct {
		ENP       string `json:"enp"`
		ValidFrom string `json:"validFrom"`
		ValidTo   string `json:"validTo"`
		Status    string `json:"status"`
	} `json:"policy"`
	Consent *struct {
		WithdrawnAt time.Time `json:"withdrawnAt"`
	} `json:"consent"`
	Erased *struct {
		At    time.Time `json:"at"`
		Basis string    `json:"basis"`
	} `json:"erased"`
}

func (s stateFacts) print(w io.Writer) {
	if s.Assignee != "" {
		fmt.Fprintf(w, "  assignee: %s\n", s.Assignee)
	}
	open := 0
	for _, q := range s.Questions {
		if !q.Answered {
			open++
		}
	}
	if len(s.Questions) > 0 {
		fmt.Fprintf(w, "  questions: %d asked, %d open\n", len(s.Questions), open)
	}
	if d := s.Decision; d != nil {
		fmt.Fprintf(w, "  decision: %s by %s", d.Outcome, d.By)
		if d.Reason != "" {
			fmt.Fprintf(w, " (%s)", d.Reason)
		}
		fmt.Fprintln(w)
	}
	if p := s.Policy; p != nil {
		fmt.Fprintf(w, "  policy: ЕНП %s, %s to %s, %s\n", p.ENP, p.ValidFrom, p.ValidTo, p.Status)
	}
	if c := s.Consent; c != nil && !c.WithdrawnAt.IsZero() {
		fmt.Fprintf(w, "  consent withdrawn: %s\n", c.WithdrawnAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if e := s.Erased; e != nil {
		fmt.Fprintf(w, "  personal data erased: %s (%s)\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Basis)
	}
}

// applicationNumber is the number the pages give an application.
var applicationNumber = regexp.MustCompile(`^[0-9A-Fa-f]{8}$`)

// resolveNumber turns an application's 8-character number into its id,
// through the staff lookup; anything else is taken for an id.
func resolveNumber(api *apiClient, arg string) (string, error) {
	if !applicationNumber.MatchString(arg) {
		return arg, nil
	}
	var m struct {
		Applications []string `json:"applications"`
	}
	if err := api.do("GET", "/api/v1/applications/by-number/"+strings.ToLower(arg), nil, &m); err != nil {
		return "", err
	}
	switch len(m.Applications) {
	case 0:
		return "", fmt.Errorf("заявления с номером %s нет / no application has the number %s", arg, arg)
	case 1:
		return m.Applications[0], nil
	}
	return "", fmt.Errorf("номер %s у %d заявлений, укажите id целиком / the number %s is shared by %d applications; give the whole id: %s", arg, len(m.Applications), arg, len(m.Applications), strings.Join(m.Applications, ", "))
}
