module github.com/parley-im/parley

go 1.26
