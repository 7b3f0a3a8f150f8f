package httpapi

import "github.com/omsonline/oms/projections/leader"

// The waiter omsd wires in tells its projections' positions, so a
// read-your-writes query that has nothing to wait for does not read the
// end of the event log.
var _ positioner = (*leader.Leader)(nil)
