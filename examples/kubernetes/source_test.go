package kubernetes_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// raftNodeDir is examples/raft-node, the command the manifests run.
const raftNodeDir = "../raft-node"

// raftNode is what the manifests rely on in raft-node's source, read with
// go/parser from its non-test files, so a renamed flag or a moved probe
// fails here and not in someone's cluster.
type raftNode struct {
	// flags of the one-node command line, the FlagSet made by
	// flag.NewFlagSet("raft-node", …): name → where it is defined.
	flags map[string]flagDef
	// routes registered by a Handle or HandleFunc call with a literal
	// pattern: path → the methods it is registered for ("" for any).
	routes map[string][]string
	// grpcHealth is where grpc.health.v1 is registered ("" if nowhere).
	grpcHealth string
}

type flagDef struct {
	boolean bool   // fs.Bool, fs.BoolVar or fs.BoolFunc: takes no value
	pos     string // file:line
}

var readRaftNode = sync.OnceValues(func() (*raftNode, error) { return parseRaftNode(raftNodeDir) })

// flagSetMethods are flag.FlagSet's flag definers, each with the index of
// its name argument.
var flagSetMethods = map[string]int{
	"String": 0, "Int": 0, "Int64": 0, "Uint": 0, "Uint64": 0, "Float64": 0, "Duration": 0, "Bool": 0,
	"Func": 0, "BoolFunc": 0,
	"StringVar": 1, "IntVar": 1, "Int64Var": 1, "UintVar": 1, "Uint64Var": 1, "Float64Var": 1,
	"DurationVar": 1, "BoolVar": 1, "Var": 1, "TextVar": 1,
}

func parseRaftNode(dir string) (*raftNode, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	n := &raftNode{flags: map[string]flagDef{}, routes: map[string][]string{}}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if err := n.readFunc(fset, fn); err != nil {
				return nil, err
			}
		}
	}
	if len(n.flags) == 0 {
		return nil, fmt.Errorf("no flag.NewFlagSet(\"raft-node\", …) defining flags in %s", dir)
	}
	return n, nil
}

// readFunc collects the flags, routes and gRPC health registration of one
// function.
func (n *raftNode) readFunc(fset *token.FileSet, fn *ast.FuncDecl) error {
	// The variables holding flag.NewFlagSet("raft-node", …) in fn.
	sets := map[string]bool{}
	ast.Inspect(fn.Body, func(node ast.Node) bool {
		as, ok := node.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return true
		}
		for i, rhs := range as.Rhs {
			recv, fun, args := call(rhs)
			if recv == "flag" && fun == "NewFlagSet" && len(args) > 0 && stringLit(args[0]) == "raft-node" {
				if id, ok := as.Lhs[i].(*ast.Ident); ok {
					sets[id.Name] = true
				}
			}
		}
		return true
	})
	var err error
	ast.Inspect(fn.Body, func(node ast.Node) bool {
		if node == nil {
			return false
		}
		recv, fun, args := call(node)
		pos := fset.Position(node.Pos())
		at := fmt.Sprintf("%s:%d", pos.Filename, pos.Line)
		if i, ok := flagSetMethods[fun]; ok && sets[recv] && len(args) > i {
			name, lit := unquote(args[i])
			if !lit {
				err = fmt.Errorf("%s: a flag whose name is not a string literal; this test cannot read it", at)
				return false
			}
			n.flags[name] = flagDef{boolean: strings.HasPrefix(fun, "Bool"), pos: at}
		}
		if (fun == "Handle" || fun == "HandleFunc") && len(args) > 0 {
			if pattern, lit := unquote(args[0]); lit {
				method, path := splitPattern(pattern)
				n.routes[path] = append(n.routes[path], method)
			}
		}
		if fun == "RegisterHealthServer" {
			n.grpcHealth = at
		}
		return true
	})
	return err
}

// servesGET reports whether path is routed for GET (and so for the
// kubelet's HTTP probes).
func (n *raftNode) servesGET(path string) bool {
	return slices.ContainsFunc(n.routes[path], func(m string) bool { return m == "" || m == "GET" })
}

// splitPattern splits a net/http ServeMux pattern, "[METHOD ][HOST]/PATH",
// into its method ("" for any) and its path.
func splitPattern(p string) (method, path string) {
	if m, rest, ok := strings.Cut(p, " "); ok {
		method, p = m, strings.TrimLeft(rest, " \t")
	}
	if i := strings.Index(p, "/"); i > 0 {
		p = p[i:] // drop the host
	}
	return method, p
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

func stringLit(e ast.Expr) string {
	s, _ := unquote(e)
	return s
}

func unquote(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
