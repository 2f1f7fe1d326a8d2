package kubernetes_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds are the kinds the manifests may hold, each with the type the API
// server decodes it into. Anything else is an error: a kind this table
// does not know is one no test here checks.
var kinds = map[schema.GroupVersionKind]func() any{
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):           func() any { return new(appsv1.StatefulSet) },
	corev1.SchemeGroupVersion.WithKind("Service"):               func() any { return new(corev1.Service) },
	policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"): func() any { return new(policyv1.PodDisruptionBudget) },
}

// document is one YAML document of a manifest file, decoded.
type document struct {
	index int // 1-based, counting the non-empty documents of the file
	gvk   schema.GroupVersionKind
	obj   any    // *appsv1.StatefulSet, *corev1.Service, …
	json  []byte // the document as JSON, as kubectl sends it
}

// decodeStrict decodes one YAML document into the typed object of its
// kind as the API server's strict field validation (kubectl's default)
// does: a duplicate key, an unknown field, a field whose case differs
// (the API's JSON is case-sensitive, unlike encoding/json), or a value
// of the wrong type is an error; so is a missing or unknown kind.
func decodeStrict(doc []byte) (document, error) {
	js, err := yaml.YAMLToJSONStrict(doc) // duplicate keys are errors here
	if err != nil {
		return document{}, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return document{}, fmt.Errorf("apiVersion and kind: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return document{}, fmt.Errorf("no apiVersion or kind (apiVersion %q, kind %q)", tm.APIVersion, tm.Kind)
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	newObj, ok := kinds[gvk]
	if !ok {
		var known []string
		for k := range maps.Keys(kinds) {
			known = append(known, k.GroupVersion().String()+" "+k.Kind)
		}
		slices.Sort(known)
		return document{}, fmt.Errorf("unknown kind %s %s (known: %s)", tm.APIVersion, tm.Kind, strings.Join(known, ", "))
	}
	obj := newObj()
	strict, err := sigsjson.UnmarshalStrict(js, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return document{}, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		return document{}, fmt.Errorf("%s: %w", tm.Kind, errors.Join(strict...))
	}
	return document{gvk: gvk, obj: obj, json: js}, nil
}

// decodeAll splits a multi-document YAML file at its "---" lines, as
// kubectl does, and decodes each document with decodeStrict. Documents
// that hold only comments are skipped.
func decodeAll(data []byte) ([]document, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []document
	for {
		chunk, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if empty, err := emptyDocument(chunk); err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
		} else if empty {
			continue
		}
		d, err := decodeStrict(chunk)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
		}
		d.index = len(docs) + 1
		docs = append(docs, d)
	}
}

// emptyDocument reports whether a YAML document holds nothing but comments.
func emptyDocument(chunk []byte) (bool, error) {
	js, err := yaml.YAMLToJSONStrict(chunk)
	if err != nil {
		return false, err
	}
	return bytes.Equal(bytes.TrimSpace(js), []byte("null")), nil
}

// decodeFile reads a manifest file and decodes every document in it.
func decodeFile(file string) ([]document, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	docs, err := decodeAll(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return docs, nil
}
