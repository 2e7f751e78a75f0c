package disco

import (
	"cmp"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/parley-im/parley/stanza"
)

// Identity is a disco#info identity (XEP-0030 §3.1).
type Identity struct {
	Category string
	Type     string
	Lang     string // xml:lang, usually empty
	Name     string
}

// Element renders the <identity/> child of a disco#info result.
func (id Identity) Element() *stanza.Element {
	el := stanza.New("identity", NSInfo, "category", id.Category, "type", id.Type)
	if id.Lang != "" {
		el.SetAttr("xml:lang", id.Lang)
	}
	if id.Name != "" {
		el.SetAttr("name", id.Name)
	}
	return el
}

// Ver computes the XEP-0115 §5.1 verification string with SHA-1 for
// identities and features; XEP-0128 extended forms are not supported
// because the server publishes none. Features are deduplicated first: a
// response listing one twice would be ill-formed (§5.4).
func Ver(ids []Identity, features []string) string {
	ids = slices.Clone(ids)
	// i;octet collation is Go's byte-wise string order.
	slices.SortFunc(ids, func(a, b Identity) int {
		return cmp.Or(
			strings.Compare(a.Category, b.Category),
			strings.Compare(a.Type, b.Type),
			strings.Compare(a.Lang, b.Lang),
			strings.Compare(a.Name, b.Name))
	})
	var s strings.Builder
	for _, id := range ids {
		s.WriteString(id.Category + "/" + id.Type + "/" + id.Lang + "/" + id.Name + "<")
	}
	for _, f := range sortedUnique(features) {
		s.WriteString(f + "<")
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// sortedUnique returns a sorted copy of list without duplicates.
func sortedUnique(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}
