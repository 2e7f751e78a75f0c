package jid

import "testing"

func BenchmarkParse(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"ASCII/full", "juliet@capulet.example/balcony-7f3a"},
		{"ASCII/bare", "juliet@capulet.example"},
		{"ASCII/domain", "conference.capulet.example"},
		{"ASCII/uppercase", "Juliet@Capulet.example/Balcony"},
		{"NonASCII/local", "fußball@example.com/balcony"},
		{"NonASCII/domain", "juliet@bücher.example/balcony"},
		{"NonASCII/resource", "juliet@capulet.example/♚ balcony"},
		{"NonASCII/Alabel", "juliet@xn--bcher-kva.example"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
