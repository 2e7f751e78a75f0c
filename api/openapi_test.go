package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/parley-im/parley/api"
)

// openAPI is the part of the document the tests read.
type openAPI struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]operation       `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
	Security   []map[string][]string                 `json:"security"`
}

type operation struct {
	Security  *[]map[string][]string     `json:"security"`
	Responses map[string]json.RawMessage `json:"responses"`
}

func parseDoc(t *testing.T, b []byte) openAPI {
	t.Helper()
	var doc openAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	return doc
}

// documented lists the document's operations as "METHOD /path".
func (d openAPI) documented() []string {
	var out []string
	for path, ops := range d.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// The document describes exactly the routes the ServeMux serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := parseDoc(t, api.OpenAPI())
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var routes []string
	for _, r := range api.Routes() {
		// OpenAPI has no {name...}: a path parameter is {name}.
		routes = append(routes, strings.ReplaceAll(r, "...}", "}"))
	}
	sort.Strings(routes)
	if got := doc.documented(); !slices.Equal(got, routes) {
		t.Fatalf("the document and the routes differ:\ndocumented %q\nserved     %q", got, routes)
	}
}

// Every operation but the document's own needs the bearer token and
// documents its 401; every $ref resolves.
func TestOpenAPIContents(t *testing.T) {
	raw := api.OpenAPI()
	doc := parseDoc(t, raw)
	if len(doc.Security) != 2 || doc.Security[0]["bearer"] == nil || doc.Security[1]["session"] == nil {
		t.Fatalf("top-level security %v, want bearer or session", doc.Security)
	}
	var scheme struct{ Type, Scheme, In, Name string }
	if err := json.Unmarshal(doc.Components["securitySchemes"]["bearer"], &scheme); err != nil || scheme.Type != "http" || scheme.Scheme != "bearer" {
		t.Fatalf("securitySchemes.bearer: %+v %v", scheme, err)
	}
	if err := json.Unmarshal(doc.Components["securitySchemes"]["session"], &scheme); err != nil || scheme.Type != "apiKey" || scheme.In != "cookie" || scheme.Name != "parley_admin" {
		t.Fatalf("securitySchemes.session: %+v %v", scheme, err)
	}
	for _, op := range doc.documented() {
		method, path, _ := strings.Cut(op, " ")
		o := doc.Paths[path][strings.ToLower(method)]
		if path == "/api/v1/openapi.json" {
			if o.Security == nil || len(*o.Security) != 0 {
				t.Errorf("%s: want security: [] (no token)", op)
			}
			continue
		}
		if _, ok := o.Responses["401"]; !ok {
			t.Errorf("%s: no 401 response", op)
		}
		if len(o.Responses) < 2 {
			t.Errorf("%s: responses %v", op, o.Responses)
		}
	}
	for _, schema := range []string{"Error", "UserList", "NewUser", "UserCreated", "Password", "Session", "SessionList", "Message", "MessageSent", "Node", "NodeList", "StatsList", "NodeStats", "MetricFamily", "MetricSeries"} {
		if doc.Components["schemas"][schema] == nil {
			t.Errorf("no schema %s", schema)
		}
	}
	// Every "$ref": "#/components/<kind>/<name>" names something.
	s := string(raw)
	for {
		i := strings.Index(s, `"$ref": "`)
		if i < 0 {
			break
		}
		s = s[i+len(`"$ref": "`):]
		ref := s[:strings.IndexByte(s, '"')]
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		if !strings.HasPrefix(ref, "#/components/") || len(parts) != 2 || doc.Components[parts[0]][parts[1]] == nil {
			t.Errorf("$ref %q resolves to nothing", ref)
		}
	}
}

// The server serves the document as it is, and each documented operation
// reaches a route (not the ServeMux's 404 or 405).
func TestOpenAPIServed(t *testing.T) {
	e := start(t)
	r := e.request("GET", "/api/v1/openapi.json", nil, "Authorization", "")
	r.ok(http.StatusOK, new(map[string]any))
	if string(r.body) != string(api.OpenAPI()) {
		t.Fatal("the served document is not the embedded one")
	}
	doc := parseDoc(t, r.body)
	for _, op := range doc.documented() {
		method, path, _ := strings.Cut(op, " ")
		path = strings.ReplaceAll(path, "{jid}", "nobody@localhost/x")
		if strings.HasPrefix(path, "/api/v1/users/") {
			path = strings.Replace(path, "/x", "", 1)
		}
		var body any
		if method == "POST" || method == "PUT" {
			body = "{}"
		}
		got := e.request(method, path, body)
		var ae apiError
		_ = json.Unmarshal(got.body, &ae)
		if got.status == http.StatusMethodNotAllowed || ae.Error.Code == "not-found" {
			t.Errorf("%s %s: %d %s, want a route", method, path, got.status, got.body)
		}
	}
}
