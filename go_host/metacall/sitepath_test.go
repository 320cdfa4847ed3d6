package metacall

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded interpreter starts as the base Python, whose site-packages (and the user's) are
// on sys.path before the environment's is added. It must see the environment's packages as the
// environment's own python does: its site-packages first, and the base ones not at all when its
// pyvenv.cfg says include-system-site-packages = false (what make venv writes). Before, a
// package installed in both came from the base interpreter (another version than the pinned
// one) and one installed only there was imported too (Keras imports IPython when it can).
func TestTheEnvironmentsPackagesAreTheOnesImported(t *testing.T) {
	name := fmt.Sprintf("site_paths_%d", memoryLoads.Add(1))
	code := "def " + name + `():
    import os, site, sys, cachetools, yaml
    return {
        "path": sys.path,
        "system": [*site.getsitepackages(), site.getusersitepackages()],
        "venv_site": os.path.dirname(os.path.dirname(cachetools.__file__)),
        "yaml": yaml.__file__,
    }
`
	if err := LoadFromMemory("py", code); err != nil {
		t.Fatal(err)
	}
	got := mustCall(t, name).(map[string]interface{})
	strs := func(key string) []string {
		var out []string
		for _, v := range got[key].([]interface{}) {
			out = append(out, v.(string))
		}
		return out
	}
	path, system := strs("path"), strs("system")
	venvSite := got["venv_site"].(string)
	index := func(dir string) int {
		for i, p := range path {
			if p == dir {
				return i
			}
		}
		return -1
	}
	at := index(venvSite)
	if at < 0 {
		t.Fatalf("the environment's site-packages %s is not on sys.path %v", venvSite, path)
	}
	if !strings.HasPrefix(got["yaml"].(string), venvSite+string(filepath.Separator)) {
		t.Errorf("yaml comes from %s, not from the environment's %s", got["yaml"], venvSite)
	}
	cfg, err := os.ReadFile(filepath.Join(venvSite, "..", "..", "..", "pyvenv.cfg"))
	if err != nil {
		t.Skipf("%s is not a venv's site-packages (no pyvenv.cfg): %v", venvSite, err)
	}
	includeSystem := strings.Contains(strings.ReplaceAll(string(cfg), " ", ""),
		"include-system-site-packages=true")
	for _, dir := range system {
		i := index(dir)
		switch {
		case i >= 0 && !includeSystem:
			t.Errorf("the base interpreter's %s is on sys.path (pyvenv.cfg excludes it): %v", dir, path)
		case i >= 0 && i < at:
			t.Errorf("the base interpreter's %s comes before the environment's: %v", dir, path)
		}
	}
}
