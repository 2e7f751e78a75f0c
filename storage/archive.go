package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ArchivedMessage is one message in one owner's archive (XEP-0313).
type ArchivedMessage struct {
	ID     string    // the stanza-id (XEP-0359) the owner's server gave it
	Time   time.Time // when it was archived
	With   string    // the other party: its bare JID, or full if it had a resource
	Stanza []byte    // the message as routed, serialized in jabber:client
}

// ArchiveEntry is a message to append to an owner's archive.
type ArchiveEntry struct {
	Owner  string // bare JID
	ID     string // from NewArchiveID
	Time   time.Time
	With   string // bare or full JID of the other party
	Stanza []byte
}

// SMMark moves a stream management session's durable count of handled
// client stanzas (see SMSession) in the transaction that archives them.
type SMMark struct {
	Owner, ID string
	// Member is the process that holds the session: a holder whose
	// session was taken over (fenced, see ClaimSMSession) moves nothing.
	Member  string
	Handled uint32
}

// ArchiveQuery selects and pages an owner's archive. Bounds on ids are
// exclusive; an id that is not in the archive is ErrNotFound.
type ArchiveQuery struct {
	With       string    // "": anyone; a bare JID matches all its resources
	Start, End time.Time // inclusive; zero: unbounded
	IDs        []string  // only these ids (still filtered by the rest)
	AfterID    string    // filter: only newer than this id
	BeforeID   string    // filter: only older than this id

	// Paging (RSM, XEP-0059): at most Max messages (Max > 0) after
	// PageAfter, or before PageBefore, or — with Last — the newest ones.
	Max        int
	PageAfter  string
	PageBefore string
	Last       bool
	Count      bool // count everything the filters select
}

// ArchivePage is one page of a query, oldest first.
type ArchivePage struct {
	Messages []ArchivedMessage
	// Complete says there is nothing more in the paging direction: newer
	// messages for a forward page, older ones for a backward page.
	Complete bool
	Count    int // with ArchiveQuery.Count: all the filters select
}

// Archive preference modes (XEP-0313 §6.1).
const (
	ArchiveAlways = "always"
	ArchiveNever  = "never"
	ArchiveRoster = "roster"
)

// ArchivePrefs are an owner's archiving preferences.
type ArchivePrefs struct {
	Default       string   // ArchiveAlways, ArchiveNever or ArchiveRoster
	Always, Never []string // bare JIDs
}

// SMSession is the durable record of a resumable stream management
// session, enough to resume it on another node if its own node died.
type SMSession struct {
	Owner    string // bare JID
	ID       string // the resumption id
	Resource string
	Node     string // the node holding the session
	Member   string // that node's process, its cluster member id
	Created  time.Time
	Handled  uint32 // client stanzas known durable: the h to resume with
	Acked    string // stanza-id of the newest archived message the client acknowledged
	Presence []byte // the session's last broadcast presence, if available
	Carbons  bool
	// Interests are what the session fetched (router.Interests' bits).
	Interests uint8
}

// ArchiveStore is the message archive and the durable stream management
// sessions.
type ArchiveStore interface {
	// Archive appends entries (and moves mark, if not nil) in one
	// group-commit transaction; when it returns nil they are durable and
	// queryable. Entries of owners without an account are skipped.
	Archive(ctx context.Context, entries []ArchiveEntry, mark *SMMark) error
	QueryArchive(ctx context.Context, owner string, q ArchiveQuery) (ArchivePage, error)
	// ArchiveSince returns up to max of owner's messages newer than id
	// (all of them when id is ""), oldest first.
	ArchiveSince(ctx context.Context, owner, id string, max int) ([]ArchivedMessage, error)
	ArchivePrefs(ctx context.Context, owner string) (ArchivePrefs, error)
	SetArchivePrefs(ctx context.Context, owner string, p ArchivePrefs) error

	PutSMSession(ctx context.Context, s SMSession) error // insert or replace
	SMSession(ctx context.Context, owner, id string) (SMSession, error)
	// SetSMAcked moves the session's acknowledged mark forward, and
	// SetSMPresence replaces its presence and interests, if member still
	// holds it; both report whether it does (false: the session was taken
	// over, or its record is gone).
	SetSMAcked(ctx context.Context, owner, id, member, acked string) (bool, error)
	SetSMPresence(ctx context.Context, owner, id, member string, presence []byte, interests uint8) (bool, error)
	// DeleteSMSession drops a session's record if member holds it.
	DeleteSMSession(ctx context.Context, owner, id, member string) error
	// ClaimSMSession moves a session to another holder, if member still
	// holds it (any holder when member is ""); it reports whether it did.
	ClaimSMSession(ctx context.Context, owner, id, member, toNode, toMember string) (bool, error)
	// SMHolders lists the distinct (node, member) pairs holding sessions.
	SMHolders(ctx context.Context) ([][2]string, error)
	// DeleteSMSessionsOf drops the sessions a member held.
	DeleteSMSessionsOf(ctx context.Context, member string) (int, error)
}

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewArchiveID returns a new stanza-id for a message archived at t:
// unique, and sorting as a string after every id this process gave out
// before (and, across nodes, in time order up to clock skew).
func NewArchiveID(t time.Time) string {
	idMu.Lock()
	defer idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), idEntropy).String()
}

// ArchiveIDTime returns the time an archive id was made at, or false if it
// is not one.
func ArchiveIDTime(id string) (time.Time, bool) {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()).UTC(), true
}

// ArchiveIDFloor returns the smallest id an archive could give a message
// at t: every id made at t or later sorts after or equal to it.
func ArchiveIDFloor(t time.Time) string { return timeBound(t, false) }

// timeBound is the smallest (or, with upper, largest) id of t's
// millisecond.
func timeBound(t time.Time, upper bool) string {
	var u ulid.ULID
	if err := u.SetTime(ulid.Timestamp(t)); err != nil {
		if upper {
			return strings.Repeat("Z", 26)
		}
		return ""
	}
	if upper {
		for i := 6; i < len(u); i++ {
			u[i] = 0xff
		}
	}
	return u.String()
}

// archiveWrite is an Archive request, written by the archive writer.
type archiveWrite struct {
	entries []ArchiveEntry
	mark    *SMMark
}

// Archive implements ArchiveStore.
func (s *SQL) Archive(ctx context.Context, entries []ArchiveEntry, mark *SMMark) error {
	if len(entries) == 0 && mark == nil {
		return nil
	}
	return s.fail("archive", s.archive.do(ctx, &archiveWrite{entries: entries, mark: mark}))
}

// flushArchive writes a batch of archive requests: one query finds which
// owners exist, multi-row INSERTs add the messages, one UPDATE per moved
// session mark (the newest mark of each session wins).
func flushArchive(ctx context.Context, tx *sql.Tx, d dialect, ws []*archiveWrite) ([]error, error) {
	var owners []string
	for _, w := range ws {
		for _, e := range w.entries {
			owners = append(owners, e.Owner)
		}
	}
	exists := map[string]bool{}
	if len(owners) > 0 {
		args := padded(sortedSet(owners))
		rows, err := tx.QueryContext(ctx, d.q(`SELECT jid FROM accounts WHERE jid IN (`+marks(len(args))+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return nil, err
			}
			exists[o] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	const width = 6
	vals := make([]any, 0, width*len(owners))
	marksBy := map[[3]string]uint32{}
	for _, w := range ws {
		for _, e := range w.entries {
			if !exists[e.Owner] {
				continue
			}
			bare, res, _ := strings.Cut(e.With, "/")
			vals = append(vals, e.Owner, e.ID, e.Time.UnixMicro(), bare, res, nonNil(e.Stanza))
		}
		if m := w.mark; m != nil {
			k := [3]string{m.Owner, m.ID, m.Member}
			marksBy[k] = max(marksBy[k], m.Handled)
		}
	}
	for len(vals) > 0 {
		n := pow2Floor(len(vals) / width)
		q := `INSERT INTO archive (owner, id, ts, with_bare, with_res, stanza) VALUES ` + rowMarks(n, width)
		if _, err := tx.ExecContext(ctx, d.q(q), vals[:n*width]...); err != nil {
			return nil, err
		}
		vals = vals[n*width:]
	}
	for k, h := range marksBy {
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE sm_sessions SET handled = ?
			WHERE owner = ? AND id = ? AND member = ? AND handled < ?`), int64(h), k[0], k[1], k[2], int64(h)); err != nil {
			return nil, err
		}
	}
	return make([]error, len(ws)), nil
}

// QueryArchive implements ArchiveStore.
func (s *SQL) QueryArchive(ctx context.Context, owner string, q ArchiveQuery) (ArchivePage, error) {
	for _, id := range []string{q.AfterID, q.BeforeID, q.PageAfter, q.PageBefore} {
		if id == "" {
			continue
		}
		var one int
		err := s.r.QueryRowContext(ctx, s.d.q(`SELECT 1 FROM archive WHERE owner = ? AND id = ?`), owner, id).Scan(&one)
		if err != nil {
			return ArchivePage{}, s.fail("query archive", err)
		}
	}
	where := []string{"owner = ?"}
	args := []any{owner}
	if q.With != "" {
		bare, res, full := strings.Cut(q.With, "/")
		where, args = append(where, "with_bare = ?"), append(args, bare)
		if full {
			where, args = append(where, "with_res = ?"), append(args, res)
		}
	}
	if !q.Start.IsZero() {
		where, args = append(where, "id >= ?"), append(args, timeBound(q.Start, false))
	}
	if !q.End.IsZero() {
		where, args = append(where, "id <= ?"), append(args, timeBound(q.End, true))
	}
	if q.AfterID != "" {
		where, args = append(where, "id > ?"), append(args, q.AfterID)
	}
	if q.BeforeID != "" {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	if len(q.IDs) > 0 {
		ids := padded(q.IDs)
		where, args = append(where, "id IN ("+marks(len(ids))+")"), append(args, ids...)
	}
	var page ArchivePage
	if q.Count {
		err := s.r.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM archive WHERE `+strings.Join(where, " AND ")), args...).Scan(&page.Count)
		if err != nil {
			return ArchivePage{}, s.fail("query archive", err)
		}
	}
	backward := q.Last || q.PageBefore != ""
	if q.PageAfter != "" {
		where, args = append(where, "id > ?"), append(args, q.PageAfter)
	}
	if q.PageBefore != "" {
		where, args = append(where, "id < ?"), append(args, q.PageBefore)
	}
	query := `SELECT id, ts, with_bare, with_res, stanza FROM archive WHERE ` + strings.Join(where, " AND ")
	if backward {
		query += ` ORDER BY id DESC`
	} else {
		query += ` ORDER BY id`
	}
	limit := q.Max
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit+1)
	}
	msgs, err := s.scanArchive(ctx, query, args...)
	if err != nil {
		return ArchivePage{}, err
	}
	page.Complete = limit <= 0 || len(msgs) <= limit
	if !page.Complete {
		msgs = msgs[:limit]
	}
	if backward {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	page.Messages = msgs
	return page, nil
}

// ArchiveSince implements ArchiveStore.
func (s *SQL) ArchiveSince(ctx context.Context, owner, id string, max int) ([]ArchivedMessage, error) {
	return s.scanArchive(ctx, `SELECT id, ts, with_bare, with_res, stanza FROM archive
		WHERE owner = ? AND id > ? ORDER BY id LIMIT ?`, owner, id, max)
}

func (s *SQL) scanArchive(ctx context.Context, query string, args ...any) ([]ArchivedMessage, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(query), args...)
	if err != nil {
		return nil, s.fail("query archive", err)
	}
	defer rows.Close()
	var msgs []ArchivedMessage
	for rows.Next() {
		var m ArchivedMessage
		var ts int64
		var bare, res string
		if err := rows.Scan(&m.ID, &ts, &bare, &res, &m.Stanza); err != nil {
			return nil, s.fail("query archive", err)
		}
		m.Time = time.UnixMicro(ts).UTC()
		m.With = bare
		if res != "" {
			m.With += "/" + res
		}
		msgs = append(msgs, m)
	}
	return msgs, s.fail("query archive", rows.Err())
}

// ArchivePrefs implements ArchiveStore. An owner who never set any
// archives everything.
func (s *SQL) ArchivePrefs(ctx context.Context, owner string) (ArchivePrefs, error) {
	var p ArchivePrefs
	var always, never string
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT mode, always_json, never_json FROM archive_prefs WHERE owner = ?`), owner).
		Scan(&p.Default, &always, &never)
	if err == sql.ErrNoRows {
		return ArchivePrefs{Default: ArchiveAlways}, nil
	}
	if err != nil {
		return ArchivePrefs{}, s.fail("archive prefs", err)
	}
	if err := json.Unmarshal([]byte(always), &p.Always); err != nil {
		return ArchivePrefs{}, s.fail("archive prefs", err)
	}
	if err := json.Unmarshal([]byte(never), &p.Never); err != nil {
		return ArchivePrefs{}, s.fail("archive prefs", err)
	}
	return p, nil
}

// SetArchivePrefs implements ArchiveStore.
func (s *SQL) SetArchivePrefs(ctx context.Context, owner string, p ArchivePrefs) error {
	always, _ := json.Marshal(nonNilStrings(p.Always))
	never, _ := json.Marshal(nonNilStrings(p.Never))
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO archive_prefs (owner, mode, always_json, never_json)
		VALUES (?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET
		mode = excluded.mode, always_json = excluded.always_json, never_json = excluded.never_json`),
		owner, p.Default, string(always), string(never))
	return s.fail("set archive prefs", err)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// PutSMSession implements ArchiveStore.
func (s *SQL) PutSMSession(ctx context.Context, r SMSession) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO sm_sessions
		(owner, id, resource, node, member, created, handled, acked, presence, carbons, interests)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner, id) DO UPDATE SET
		resource = excluded.resource, node = excluded.node, member = excluded.member,
		created = excluded.created, handled = excluded.handled, acked = excluded.acked,
		presence = excluded.presence, carbons = excluded.carbons, interests = excluded.interests`),
		r.Owner, r.ID, r.Resource, r.Node, r.Member, r.Created.UnixMicro(), int64(r.Handled), r.Acked, r.Presence, r.Carbons, int(r.Interests))
	return s.fail("put sm session", err)
}

// SMSession implements ArchiveStore.
func (s *SQL) SMSession(ctx context.Context, owner, id string) (SMSession, error) {
	r := SMSession{Owner: owner, ID: id}
	var created, handled int64
	var interests int
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT resource, node, member, created, handled, acked, presence, carbons, interests
		FROM sm_sessions WHERE owner = ? AND id = ?`), owner, id).
		Scan(&r.Resource, &r.Node, &r.Member, &created, &handled, &r.Acked, &r.Presence, &r.Carbons, &interests)
	if err != nil {
		return SMSession{}, s.fail("sm session", err)
	}
	r.Created, r.Handled, r.Interests = time.UnixMicro(created).UTC(), uint32(handled), uint8(interests)
	return r, nil
}

// SetSMAcked implements ArchiveStore. Ids sort in archive order, so the
// mark only moves forward; the row is matched (and counted) whether or not
// it moves, so that the count says whether member holds the session.
func (s *SQL) SetSMAcked(ctx context.Context, owner, id, member, acked string) (bool, error) {
	res, err := s.w.ExecContext(ctx, s.d.q(`UPDATE sm_sessions
		SET acked = CASE WHEN acked < ? THEN ? ELSE acked END
		WHERE owner = ? AND id = ? AND member = ?`), acked, acked, owner, id, member)
	return held(res, err, s.fail("set sm acked", err))
}

// SetSMPresence implements ArchiveStore.
func (s *SQL) SetSMPresence(ctx context.Context, owner, id, member string, presence []byte, interests uint8) (bool, error) {
	res, err := s.w.ExecContext(ctx, s.d.q(`UPDATE sm_sessions SET presence = ?, interests = ?
		WHERE owner = ? AND id = ? AND member = ?`), presence, int(interests), owner, id, member)
	return held(res, err, s.fail("set sm presence", err))
}

// held reports whether an UPDATE of a session record matched it.
func held(res sql.Result, err, failed error) (bool, error) {
	if err != nil {
		return false, failed
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteSMSession implements ArchiveStore.
func (s *SQL) DeleteSMSession(ctx context.Context, owner, id, member string) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM sm_sessions WHERE owner = ? AND id = ? AND member = ?`), owner, id, member)
	return s.fail("delete sm session", err)
}

// ClaimSMSession implements ArchiveStore.
func (s *SQL) ClaimSMSession(ctx context.Context, owner, id, member, toNode, toMember string) (bool, error) {
	q := `UPDATE sm_sessions SET node = ?, member = ? WHERE owner = ? AND id = ?`
	args := []any{toNode, toMember, owner, id}
	if member != "" {
		q += ` AND member = ?`
		args = append(args, member)
	}
	res, err := s.w.ExecContext(ctx, s.d.q(q), args...)
	if err != nil {
		return false, s.fail("claim sm session", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SMHolders implements ArchiveStore.
func (s *SQL) SMHolders(ctx context.Context) ([][2]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT node, member FROM sm_sessions`)
	if err != nil {
		return nil, s.fail("sm holders", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var h [2]string
		if err := rows.Scan(&h[0], &h[1]); err != nil {
			return nil, s.fail("sm holders", err)
		}
		out = append(out, h)
	}
	return out, s.fail("sm holders", rows.Err())
}

// DeleteSMSessionsOf implements ArchiveStore.
func (s *SQL) DeleteSMSessionsOf(ctx context.Context, member string) (int, error) {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM sm_sessions WHERE member = ?`), member)
	if err != nil {
		return 0, s.fail("delete sm sessions", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
