package mam

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// request is a parsed query: the storage query, and how to answer.
type request struct {
	aq        storage.ArchiveQuery
	queryID   string
	countOnly bool // RSM <max>0</max>: the count and nothing else
	flip      bool // send the page newest first (#extended)
}

// query runs an archive query (§4): the results go to the requesting
// session one message each, then the handler returns the <fin/> result,
// which the core delivers to the same session after them.
func (m *MAM) query(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if q.Session == nil {
		return nil, &stanza.Error{Condition: stanza.NotAllowed, Text: "bind a resource first"}
	}
	req, err := m.parse(q.Payload)
	if err != nil {
		return nil, err
	}
	owner := q.From.Bare().String()
	st := m.srv.Store()
	if err := m.checkIDs(ctx, owner, req.aq.IDs); err != nil {
		return nil, err
	}
	page, err := st.QueryArchive(ctx, owner, req.aq)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.Errorf(stanza.ItemNotFound, "an id in the query is not in the archive")
	}
	if err != nil {
		return nil, fmt.Errorf("mam: query: %w", err)
	}
	set := stanza.New("set", NSRSM)
	fin := stanza.New("fin", NS).Append(set)
	if req.countOnly {
		if page.Count == 0 {
			fin.SetAttr("complete", "true")
		}
		set.Append(stanza.New("count", NSRSM).SetText(strconv.Itoa(page.Count)))
		return q.Result(fin), nil
	}
	page.Messages, page.Complete = m.fit(page, req.aq.Last || req.aq.PageBefore != "")
	msgs := page.Messages
	if len(msgs) > 0 {
		index, err := m.index(ctx, owner, req.aq, page)
		if err != nil {
			return nil, err
		}
		set.Append(
			stanza.New("first", NSRSM, "index", strconv.Itoa(index)).SetText(msgs[0].ID),
			stanza.New("last", NSRSM).SetText(msgs[len(msgs)-1].ID))
	}
	set.Append(stanza.New("count", NSRSM).SetText(strconv.Itoa(page.Count)))
	if page.Complete {
		fin.SetAttr("complete", "true")
	}
	if req.flip {
		msgs = slices.Clone(msgs)
		slices.Reverse(msgs)
	}
	for _, am := range msgs {
		q.Session.Deliver(m.result(q, req.queryID, am))
	}
	return q.Result(fin), nil
}

// resultOverhead approximates the bytes a result adds around a message.
const resultOverhead = 256

// fit trims a page to the byte budget, keeping at least one message. It
// drops the end paging goes on from (the newest messages of a forward
// page, the oldest of a backward one), so the client's next page picks
// them up; a trimmed page is not complete.
func (m *MAM) fit(page storage.ArchivePage, backward bool) ([]storage.ArchivedMessage, bool) {
	msgs := page.Messages
	size := 0
	for i := range msgs {
		j := i
		if backward {
			j = len(msgs) - 1 - i
		}
		size += len(msgs[j].Stanza) + resultOverhead
		if size <= m.maxPageBytes || i == 0 {
			continue
		}
		if backward {
			return msgs[j+1:], false
		}
		return msgs[:j], false
	}
	return msgs, page.Complete
}

// parse reads the query element: its form, RSM set and flip-page.
func (m *MAM) parse(el *stanza.Element) (request, error) {
	req := request{queryID: el.Attr("queryid"), aq: storage.ArchiveQuery{Count: true, Max: m.defaultPage}}
	if el.Attr("node") != "" {
		// Pubsub archives (XEP-0442); an account has no nodes.
		return req, stanza.Errorf(stanza.ItemNotFound, "this archive has no nodes")
	}
	if x := el.Child("x", NSData); x != nil {
		if err := m.applyForm(x, &req.aq); err != nil {
			return req, err
		}
	}
	if set := el.Child("set", NSRSM); set != nil {
		if err := m.applyRSM(set, &req); err != nil {
			return req, err
		}
	}
	req.flip = el.Child("flip-page", NS) != nil
	return req, nil
}

// applyRSM reads the client's RSM request (XEP-0059): max, and after or
// before (an empty <before/> asks for the last page).
func (m *MAM) applyRSM(set *stanza.Element, req *request) error {
	if set.Child("index", NSRSM) != nil {
		return stanza.Errorf(stanza.FeatureNotImplemented, "paging by <index/> is not supported; use <after/> or <before/>")
	}
	if el := set.Child("max", NSRSM); el != nil {
		n, err := strconv.Atoi(strings.TrimSpace(el.Text()))
		if err != nil || n < 0 {
			return stanza.Errorf(stanza.BadRequest, "RSM <max/> must be a non-negative integer")
		}
		if n == 0 {
			// Storage reads Max 0 as no limit: fetch one, send none.
			req.countOnly, n = true, 1
		}
		req.aq.Max = min(n, m.maxPage)
	}
	after := set.Child("after", NSRSM)
	before := set.Child("before", NSRSM)
	if after != nil && before != nil {
		return stanza.Errorf(stanza.BadRequest, "RSM <after/> and <before/> cannot be combined; use the after-id and before-id fields")
	}
	if after != nil {
		req.aq.PageAfter = strings.TrimSpace(after.Text())
	}
	if before != nil {
		req.aq.PageBefore = strings.TrimSpace(before.Text())
		req.aq.Last = req.aq.PageBefore == ""
	}
	return nil
}

// checkIDs makes sure every id of the 'ids' field is in the archive
// (§4.1.3); the storage query would just skip those that are not.
func (m *MAM) checkIDs(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	p, err := m.srv.Store().QueryArchive(ctx, owner, storage.ArchiveQuery{IDs: uniq, Count: true, Max: 1})
	if err != nil {
		return fmt.Errorf("mam: check ids: %w", err)
	}
	if p.Count != len(uniq) {
		return stanza.Errorf(stanza.ItemNotFound, "an id in field 'ids' is not in the archive")
	}
	return nil
}

// index is the position of the page's first message among all the query
// selects (the RSM <first index=.../>). It follows from the count where the
// page touches either end, and takes one more count otherwise.
func (m *MAM) index(ctx context.Context, owner string, aq storage.ArchiveQuery, page storage.ArchivePage) (int, error) {
	n := len(page.Messages)
	backward := aq.Last || aq.PageBefore != ""
	switch {
	case !backward && aq.PageAfter == "", backward && page.Complete:
		return 0, nil
	case !backward && page.Complete, aq.Last:
		return page.Count - n, nil
	}
	older := storage.ArchiveQuery{
		With: aq.With, Start: aq.Start, End: aq.End, IDs: aq.IDs, AfterID: aq.AfterID,
		BeforeID: page.Messages[0].ID, Count: true, Max: 1,
	}
	p, err := m.srv.Store().QueryArchive(ctx, owner, older)
	if err != nil {
		return 0, fmt.Errorf("mam: index: %w", err)
	}
	return p.Count, nil
}

// result wraps one archived message for the requester (§4.2).
func (m *MAM) result(q im.IQ, queryID string, am storage.ArchivedMessage) *stanza.Element {
	res := stanza.New("result", NS)
	if queryID != "" {
		res.SetAttr("queryid", queryID)
	}
	res.SetAttr("id", am.ID)
	fwd := stanza.New("forwarded", NSForward).Append(
		stanza.New("delay", stanza.NSDelay, "stamp", am.Time.UTC().Format(time.RFC3339Nano)))
	if orig, err := stanza.ParseBytes(am.Stanza); err == nil {
		fwd.Append(orig)
	} else {
		// §3.2 lets a result go without its message; the id, time and
		// paging stay consistent.
		m.log.Error("mam: archived message does not parse", "owner", q.From.Bare(), "id", am.ID, "err", err)
	}
	return stanza.New("message", stanza.NSClient,
		"to", q.From.String(), "from", q.From.Bare().String(), "id", rand.Text()).Append(res.Append(fwd))
}
