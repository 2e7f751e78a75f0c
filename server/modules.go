package server

// registerModules wires the XEP modules into the core.
func registerModules(s *Server) {}
