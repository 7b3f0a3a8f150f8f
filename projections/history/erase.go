package history

import (
	"github.com/omsonline/oms/projections/appview"
	"github.com/omsonline/oms/projections/runner"
)

// eraseEntries rewrites the entries before an erasure the way a rebuild
// would write them once the key is gone (see appview.EraseChanges). Every
// entry is written again, changed or not, so that live and rebuilt
// documents agree on their positions too.
func eraseEntries(tx *runner.Tx, appID string, erasedAt uint64) error {
	for rev := range erasedAt {
		var e Entry
		exists, _, err := tx.GetJSON(Entries, EntryID(appID, rev), &e)
		if err != nil {
			return err
		}
		if !exists {
			continue
		}
		if e.Diff, err = appview.EraseChanges(e.Diff); err != nil {
			return err
		}
		if err := tx.Put(Entries, EntryID(appID, rev), e, nil); err != nil {
			return err
		}
	}
	return nil
}
