// Package browsertest drives the people's pages in a real browser (Debian's
// Chromium through chromedp) against a whole omsd on embedded stores: the
// seed's journey from the applicant's first form to the auditor's timeline,
// asserting at each step what a person would see, with screenshots kept as
// test artifacts. It holds only tests.
package browsertest
