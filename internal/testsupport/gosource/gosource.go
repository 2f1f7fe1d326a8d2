// Package gosource reads, from a Go program's source, what deployment
// files rely on: the flags of its command line, the HTTP routes it
// registers and whether it serves gRPC health. The tests of the Kubernetes
// manifests and of the Compose file read raft-node with it, so a renamed
// flag or a moved probe fails a test and not someone's cluster.
//
// It reads the syntax only (go/parser, no type checking), so it sees what
// is written literally: a flag defined by a method of a *flag.FlagSet held
// in a variable assigned flag.NewFlagSet(name, …) in the same function, a
// route registered by a Handle or HandleFunc call whose pattern is a
// string literal, and a call of RegisterHealthServer. A flag whose name is
// not a string literal is an error, since it cannot be read. Only tests
// import it; it depends on the standard library alone.
package gosource

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Program is what a program's non-test Go files define.
type Program struct {
	// Flags are the flags of the named FlagSet: name → its definition.
	Flags map[string]Flag
	// Routes are the paths registered with a literal pattern: path → the
	// methods it is registered for, "" for any.
	Routes map[string][]string
	// GRPCHealth is where grpc.health.v1 is registered (file:line), or ""
	// when it is not.
	GRPCHealth string
}

// Flag is one flag definition.
type Flag struct {
	// Kind is "bool" (fs.Bool, BoolVar or BoolFunc: it takes no value),
	// "duration", "int", "uint", "float" or "string" (String, StringVar,
	// Func, Var and TextVar: any text).
	Kind string
	Pos  string // file:line of the definition
}

// definers are flag.FlagSet's flag-defining methods: the kind of flag
// each makes and the index of its name argument.
var definers = map[string]struct {
	kind string
	name int
}{
	"Bool": {"bool", 0}, "BoolVar": {"bool", 1}, "BoolFunc": {"bool", 0},
	"Duration": {"duration", 0}, "DurationVar": {"duration", 1},
	"Int": {"int", 0}, "IntVar": {"int", 1}, "Int64": {"int", 0}, "Int64Var": {"int", 1},
	"Uint": {"uint", 0}, "UintVar": {"uint", 1}, "Uint64": {"uint", 0}, "Uint64Var": {"uint", 1},
	"Float64": {"float", 0}, "Float64Var": {"float", 1},
	"String": {"string", 0}, "StringVar": {"string", 1}, "Func": {"string", 0},
	"Var": {"string", 1}, "TextVar": {"string", 1},
}

// Read reads the program in dir (its *.go files but the tests) and the
// flags of the FlagSet made by flag.NewFlagSet(flagSet, …). It fails when
// dir holds no Go file or no such FlagSet with a flag.
func Read(dir, flagSet string) (*Program, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	if len(files) == 0 {
		return nil, fmt.Errorf("gosource: no Go files in %s", dir)
	}
	p := &Program{Flags: map[string]Flag{}, Routes: map[string][]string{}}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("gosource: %w", err)
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
				if err := p.readFunc(fset, fn, flagSet); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(p.Flags) == 0 {
		return nil, fmt.Errorf("gosource: no flag.NewFlagSet(%q, …) defining flags in %s", flagSet, dir)
	}
	return p, nil
}

// readFunc collects the flags, routes and gRPC health registration of one
// function.
func (p *Program) readFunc(fset *token.FileSet, fn *ast.FuncDecl, flagSet string) error {
	sets := flagSetVars(fn, flagSet)
	var err error
	ast.Inspect(fn.Body, func(node ast.Node) bool {
		if node == nil || err != nil {
			return false
		}
		recv, fun, args := call(node)
		pos := fset.Position(node.Pos())
		at := fmt.Sprintf("%s:%d", pos.Filename, pos.Line)
		if d, ok := definers[fun]; ok && sets[recv] && len(args) > d.name {
			name, lit := stringLit(args[d.name])
			if !lit {
				err = fmt.Errorf("gosource: %s: a flag whose name is not a string literal cannot be read", at)
				return false
			}
			p.Flags[name] = Flag{Kind: d.kind, Pos: at}
		}
		if (fun == "Handle" || fun == "HandleFunc") && len(args) > 0 {
			if pattern, lit := stringLit(args[0]); lit {
				method, path := SplitPattern(pattern)
				p.Routes[path] = append(p.Routes[path], method)
			}
		}
		if fun == "RegisterHealthServer" {
			p.GRPCHealth = at
		}
		return true
	})
	return err
}

// flagSetVars are the names of the variables fn assigns
// flag.NewFlagSet(name, …).
func flagSetVars(fn *ast.FuncDecl, name string) map[string]bool {
	sets := map[string]bool{}
	ast.Inspect(fn.Body, func(node ast.Node) bool {
		as, ok := node.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return true
		}
		for i, rhs := range as.Rhs {
			recv, fun, args := call(rhs)
			if recv != "flag" || fun != "NewFlagSet" || len(args) == 0 {
				continue
			}
			if s, _ := stringLit(args[0]); s != name {
				continue
			}
			if id, ok := as.Lhs[i].(*ast.Ident); ok {
				sets[id.Name] = true
			}
		}
		return true
	})
	return sets
}

// ServesGET reports whether path is routed for GET (and so for the
// kubelet's HTTP probes and Compose's curl healthchecks).
func (p *Program) ServesGET(path string) bool {
	return slices.ContainsFunc(p.Routes[path], func(m string) bool { return m == "" || m == "GET" })
}

// SplitPattern splits a net/http ServeMux pattern, "[METHOD ][HOST]/PATH",
// into its method ("" for any) and its path.
func SplitPattern(pattern string) (method, path string) {
	if m, rest, ok := strings.Cut(pattern, " "); ok {
		method, pattern = m, strings.TrimLeft(rest, " \t")
	}
	if i := strings.Index(pattern, "/"); i > 0 {
		pattern = pattern[i:] // drop the host
	}
	return method, pattern
}

// call returns the receiver's (or package's) name, the function name and
// the arguments of n when it is a call of the form x.F(…).
func call(n ast.Node) (recv, fun string, args []ast.Expr) {
	c, ok := n.(*ast.CallExpr)
	if !ok {
		return "", "", nil
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", "", nil
	}
	if id, ok := sel.X.(*ast.Ident); ok {
		recv = id.Name
	}
	return recv, sel.Sel.Name, c.Args
}

// stringLit returns the value of e when it is a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
