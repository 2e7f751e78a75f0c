package mam

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// metadata answers with the first and last message of the archive (§5),
// or an empty <metadata/> when it is empty.
func (m *MAM) metadata(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	owner := q.From.Bare().String()
	st := m.srv.Store()
	res := stanza.New("metadata", NS)
	first, err := st.QueryArchive(ctx, owner, storage.ArchiveQuery{Max: 1})
	if err != nil {
		return nil, fmt.Errorf("mam: metadata: %w", err)
	}
	if len(first.Messages) == 0 {
		return q.Result(res), nil
	}
	last, err := st.QueryArchive(ctx, owner, storage.ArchiveQuery{Max: 1, Last: true})
	if err != nil {
		return nil, fmt.Errorf("mam: metadata: %w", err)
	}
	if len(last.Messages) == 0 { // emptied in between
		return q.Result(res), nil
	}
	bound := func(name string, am storage.ArchivedMessage) *stanza.Element {
		return stanza.New(name, NS, "id", am.ID, "timestamp", am.Time.UTC().Format(time.RFC3339Nano))
	}
	return q.Result(res.Append(bound("start", first.Messages[0]), bound("end", last.Messages[0]))), nil
}
