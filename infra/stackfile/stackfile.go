// Package stackfile reads stack.yml, the OpenFaaS description of every
// function, so that the local gateway serves and schedules exactly what a
// deployment would, and the build test builds exactly what faas-cli would.
package stackfile

import (
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Stack is the part of stack.yml this project reads.
type Stack struct {
	Provider struct {
		Name    string `yaml:"name"`
		Gateway string `yaml:"gateway"`
	} `yaml:"provider"`
	Configuration struct {
		Templates []struct {
			Name string `yaml:"name"`
		} `yaml:"templates"`
		Copy []string `yaml:"copy"`
	} `yaml:"configuration"`
	Functions map[string]Function `yaml:"functions"`
}

// Function is one entry of stack.yml's functions.
type Function struct {
	Lang        string            `yaml:"lang"`
	Handler     string            `yaml:"handler"`
	Image       string            `yaml:"image"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []string          `yaml:"secrets"`
	Annotations map[string]string `yaml:"annotations"`
	Labels      map[string]string `yaml:"labels"`
}

// Read parses the stack file at path.
func Read(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	var s Stack
	if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(s.Functions) == 0 {
		return nil, fmt.Errorf("%s: no functions", path)
	}
	return &s, nil
}

// Names lists the functions in name order.
func (s *Stack) Names() []string {
	names := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Schedule returns the cron schedule of a function triggered by the OpenFaaS
// cron-connector (annotations topic: cron-function and schedule), or "".
func (f Function) Schedule() string {
	if f.Annotations["topic"] != "cron-function" {
		return ""
	}
	return f.Annotations["schedule"]
}
