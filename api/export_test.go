package api

// Routes lists the patterns the API's ServeMux serves, as "METHOD /path".
func Routes() []string {
	var out []string
	for _, rt := range New(Config{}).table() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}
