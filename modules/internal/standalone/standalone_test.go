package standalone_test

import (
	"errors"
	"testing"

	"github.com/parley-im/parley/modules/internal/standalone"
	"github.com/parley-im/parley/stanza"
)

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		xml  string // an iq; its payload is marshalled with the iq as ancestor
		want string
		err  error
	}{
		{
			name: "plain",
			xml:  `<iq xmlns='jabber:client'><vCard xmlns='vcard-temp'><FN>J</FN></vCard></iq>`,
			want: `<vCard xmlns='vcard-temp'><FN>J</FN></vCard>`,
		},
		{
			name: "prefix declared on the iq",
			xml:  `<iq xmlns='jabber:client' xmlns:x='urn:x'><v xmlns='urn:v'><a x:k='1'/></v></iq>`,
			want: `<v xmlns='urn:v' xmlns:x='urn:x'><a x:k='1'/></v>`,
		},
		{
			name: "prefix declared inside",
			xml:  `<iq xmlns='jabber:client' xmlns:x='urn:other'><v xmlns='urn:v' xmlns:x='urn:x'><a x:k='1'/></v></iq>`,
			want: `<v xmlns='urn:v' xmlns:x='urn:x'><a x:k='1'/></v>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iq, err := stanza.ParseBytes([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			b, err := standalone.Marshal(iq.FirstElement(), iq)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

// A prefix declared only on the stream header cannot be recovered.
func TestMarshalUndeclared(t *testing.T) {
	el := stanza.New("v", "urn:v").Append(stanza.New("a", "urn:v", "x:k", "1"))
	if _, err := standalone.Marshal(el); !errors.Is(err, standalone.ErrUnparsable) {
		t.Errorf("err = %v, want ErrUnparsable", err)
	}
}
